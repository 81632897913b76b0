// The version of this build of Coffer. It is written once, in CMakeLists.txt's
// project(VERSION), and reaches the code only through Version().
#pragma once

#include <string_view>

namespace coffer {

// "MAJOR.MINOR.PATCH", as CMakeLists.txt's project(VERSION) says. Thread-safe.
std::string_view Version();

}  // namespace coffer
