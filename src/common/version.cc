// Version(): COFFER_VERSION is defined for this file alone by CMakeLists.txt (from
// project(VERSION)), so changing the version recompiles one file.
#include "common/version.h"

#ifndef COFFER_VERSION
#error "COFFER_VERSION is defined by CMakeLists.txt for common/version.cc"
#endif

namespace coffer {

std::string_view Version() { return COFFER_VERSION; }

}  // namespace coffer
