# Sanitizer builds (docs/security.md): COFFER_SANITIZE="address,undefined" or "thread" adds the
# -fsanitize flags to every target (layers, tests, the coffer binary); empty (the default) = off.
# scripts/test-sanitizers.sh configures build-asan (clang-16) and build-tsan with it.

set(COFFER_SANITIZE "" CACHE STRING
    "Sanitizers for every target: \"address,undefined\", \"thread\" or empty (off)")

if(COFFER_SANITIZE)
  string(REPLACE "," ";" _coffer_san_list "${COFFER_SANITIZE}")
  foreach(_san IN LISTS _coffer_san_list)
    # fuzzer-no-link: fuzz/ reuses the ASan build dir with libFuzzer's coverage instrumentation.
    if(NOT _san MATCHES "^(address|undefined|thread|leak|fuzzer-no-link)$")
      message(FATAL_ERROR "COFFER_SANITIZE: unknown sanitizer '${_san}'")
    endif()
  endforeach()
  if("thread" IN_LIST _coffer_san_list AND "address" IN_LIST _coffer_san_list)
    message(FATAL_ERROR "COFFER_SANITIZE: thread and address cannot be combined")
  endif()

  add_compile_options(-fsanitize=${COFFER_SANITIZE} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${COFFER_SANITIZE})
  if("undefined" IN_LIST _coffer_san_list)
    # Any UB report aborts the process, so a test that triggers it fails instead of logging.
    add_compile_options(-fno-sanitize-recover=undefined)
    add_link_options(-fno-sanitize-recover=undefined)
  endif()
  # Keep these builds cheap to compile on a 2-core CI: -O1 (ASan's recommended level, fast enough
  # to run the whole suite) and line tables only, which is all a sanitizer stack trace needs.
  # These come after CMAKE_CXX_FLAGS_<CONFIG> on the command line, so they win over -O2 -g.
  add_compile_options(-O1)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    add_compile_options(-gline-tables-only)
  else()
    add_compile_options(-g1)
  endif()

  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 17)
    # libstdc++ 12's <expected> (our StatusOr) is guarded by __cpp_concepts >= 202002L; clang 16
    # reports 201907L although it implements everything <expected> uses, so without this every
    # file that includes common/status.h fails to compile. clang 17+ reports 202002L itself.
    add_compile_options(-U__cpp_concepts -D__cpp_concepts=202002L)
    # clang 16 may keep a thread_local's address across a coroutine's suspension and use it after
    # the coroutine resumed on another thread (llvm/llvm-project#63022, fixed in clang 17). Asio's
    # per-thread recycling allocator for coroutine frames then touches another I/O thread's cache:
    # a race that TSan reports in these builds, a compiler bug rather than ours (the release
    # binary is built by gcc). Frames from plain new/delete avoid that TLS access, and let ASan
    # see their lifetimes (handler memory too, for the same reason). Asio is compiled only in
    # the http/server*.cc files (shared/DESIGN.md) and the files that test it through Beast, so
    # only they change (the same value in each: no ODR mismatch).
    file(GLOB server_sources CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/http/server*.cc)
    set_source_files_properties(
        ${server_sources}
        PROPERTIES COMPILE_DEFINITIONS
        "BOOST_ASIO_DISABLE_AWAITABLE_FRAME_RECYCLING;BOOST_ASIO_DISABLE_SMALL_BLOCK_RECYCLING")
  endif()
endif()
