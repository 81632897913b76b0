// Clang's thread-safety annotations (https://clang.llvm.org/docs/ThreadSafetyAnalysis.html):
// which mutex guards a member, which a function needs held or must not hold. Clang checks them
// at compile time with -Wthread-safety (an error in every clang build, see CMakeLists.txt); they
// expand to nothing on other compilers. The mutex types they apply to are in common/mutex.h.
#pragma once

#if defined(__clang__)
#define COFFER_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define COFFER_THREAD_ANNOTATION(x)
#endif

// On a class: its objects are capabilities (a mutex); `x` names the kind in warnings.
#define COFFER_CAPABILITY(x) COFFER_THREAD_ANNOTATION(capability(x))
// On a class: an RAII object that holds a capability from its constructor to its destructor.
#define COFFER_SCOPED_CAPABILITY COFFER_THREAD_ANNOTATION(scoped_lockable)

// On a member: read only with `x` held (shared or exclusive), written only with it exclusive.
#define COFFER_GUARDED_BY(x) COFFER_THREAD_ANNOTATION(guarded_by(x))
// On a pointer member: the same for what it points to.
#define COFFER_PT_GUARDED_BY(x) COFFER_THREAD_ANNOTATION(pt_guarded_by(x))

// On a mutex: the order in which mutexes are taken.
#define COFFER_ACQUIRED_BEFORE(...) COFFER_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define COFFER_ACQUIRED_AFTER(...) COFFER_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))

// On a function: callers hold these capabilities (exclusively, or at least shared).
#define COFFER_REQUIRES(...) COFFER_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define COFFER_REQUIRES_SHARED(...) \
  COFFER_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
// On a function: callers do not hold these (the function takes them itself).
#define COFFER_EXCLUDES(...) COFFER_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))

// On a function: it takes or releases these capabilities (no argument on a member function of
// the capability itself: `this`).
#define COFFER_ACQUIRE(...) COFFER_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define COFFER_ACQUIRE_SHARED(...) COFFER_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define COFFER_RELEASE(...) COFFER_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define COFFER_RELEASE_SHARED(...) COFFER_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define COFFER_RELEASE_GENERIC(...) \
  COFFER_THREAD_ANNOTATION(release_generic_capability(__VA_ARGS__))
// On a function returning bool: it took the capability when it returned `result`.
#define COFFER_TRY_ACQUIRE(...) COFFER_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define COFFER_TRY_ACQUIRE_SHARED(...) \
  COFFER_THREAD_ANNOTATION(try_acquire_shared_capability(__VA_ARGS__))

// On a function: it returns only if the capability is held (a run-time check), and the
// analysis assumes it is from there on.
#define COFFER_ASSERT_CAPABILITY(x) COFFER_THREAD_ANNOTATION(assert_capability(x))
#define COFFER_ASSERT_SHARED_CAPABILITY(x) COFFER_THREAD_ANNOTATION(assert_shared_capability(x))
// On a function: it returns a reference to this capability.
#define COFFER_RETURN_CAPABILITY(x) COFFER_THREAD_ANNOTATION(lock_returned(x))

// On a function: its body is not checked. Only where the analysis cannot follow correct code
// (say why next to it).
#define COFFER_NO_THREAD_SAFETY_ANALYSIS COFFER_THREAD_ANNOTATION(no_thread_safety_analysis)
