// Who may read or change the files that hold Coffer's keys and data: the checks that refuse a
// root key, TLS private key or store file other users could read or change. Each check takes the
// `struct stat` of the file (from fstat on the descriptor that will be read, so the file cannot be
// swapped between check and use) and returns kFailedPrecondition naming the file, its mode and
// the command that fixes it. Thread-safe (pure functions).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <string_view>

#include "common/status.h"

namespace coffer {

// A regular file that only its owner may read or change: no group or other permission bits
// (0600, 0400). `what` names the file's role in the message ("key file", "store file").
// kFailedPrecondition when it is not a regular file or has any of the bits in 077.
Status CheckOwnerOnlyFile(const struct stat& st, std::string_view what, std::string_view path);

// A TLS private key, as PostgreSQL checks its server key: owned by the server's user (`euid`) with
// no group or other bits (0600), or owned by root and at most group-readable (0640), so a key
// kept root:coffer 0640 by the operating system's certificate tooling is accepted. Anything else
// (other bits, group write, another owner) is kFailedPrecondition.
Status CheckPrivateKeyFile(const struct stat& st, uid_t euid, std::string_view path);

// A directory holding such files: other users must not be able to create, rename or remove
// entries in it (they could replace the files or plant a store's -wal/-shm), so no group or other
// write bit, sticky or not. kFailedPrecondition when it is not a directory or is writable by them.
Status CheckPrivateDirectory(const struct stat& st, std::string_view path);

}  // namespace coffer
