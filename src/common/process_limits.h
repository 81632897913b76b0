// Process-wide hardening that the commands holding key material apply first.
#pragma once

namespace coffer {

// Makes the process undumpable and sets RLIMIT_CORE to 0, so no core file holds key material.
void DisableCoreDumps();

}  // namespace coffer
