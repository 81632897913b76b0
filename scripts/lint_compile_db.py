#!/usr/bin/env python3
"""The compile commands scripts/lint.sh gives clang-tidy, from one or more build dirs.

usage: lint_compile_db.py OUT.json BUILD_DIR/compile_commands.json...

A source is checked once, in the first build that compiles it. A unity build's batch
(CMAKE_UNITY_BUILD: a generated Unity/unity_N_cxx.cxx that includes its sources by absolute path)
stands for every source in it. gcc's precompiled header (CMakeLists.txt) is not in clang's format,
so its -include is dropped: each file includes what it uses. A source inside a build dir is
generated (the embedded OpenAPI description): it is not checked, and it may not exist yet.
"""
import json
import os
import re
import sys

UNITY_INCLUDE = re.compile(r'^#include "([^"]+)"', re.M)
GCC_PCH = re.compile(r" -include \S+cmake_pch\.hxx| -Winvalid-pch")


def sources_of(path):
    if "/Unity/unity_" not in path:
        return [path]
    with open(path) as f:
        return [os.path.realpath(s) for s in UNITY_INCLUDE.findall(f.read())]


def main(out, dbs):
    entries, covered = [], set()
    build_dirs = [os.path.realpath(os.path.dirname(db)) + os.sep for db in dbs]
    for db in dbs:
        with open(db) as f:
            for entry in json.load(f):
                path = os.path.realpath(os.path.join(entry["directory"], entry["file"]))
                if any(path.startswith(d) for d in build_dirs) and "/Unity/unity_" not in path:
                    continue
                sources = sources_of(path)
                if all(s in covered for s in sources):
                    continue
                covered.update(sources)
                entry["command"] = GCC_PCH.sub("", entry["command"])
                entries.append(entry)
    with open(out, "w") as f:
        json.dump(entries, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
