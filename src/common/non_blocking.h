// NonBlockingScope: marks code that runs where it must not wait (an HTTP I/O thread). Code that
// would block for long — waiting for the store's writer — checks MustNotBlock() and, instead of
// waiting, calls NoteRefused() and fails; the caller then throws the attempt's result away and
// runs the work again where it may block. Per thread; scopes nest.
#pragma once

namespace coffer {

namespace non_blocking_internal {
struct State {
  bool active = false;
  bool refused = false;
};
inline thread_local State state;  // the calling thread's innermost scope
}  // namespace non_blocking_internal

class NonBlockingScope {
 public:
  NonBlockingScope() : outer_(non_blocking_internal::state) {
    non_blocking_internal::state = {.active = true, .refused = false};
  }
  ~NonBlockingScope() { non_blocking_internal::state = outer_; }
  NonBlockingScope(const NonBlockingScope&) = delete;
  NonBlockingScope& operator=(const NonBlockingScope&) = delete;

  // Whether something in this scope refused to block (its work is incomplete).
  bool refused() const { return non_blocking_internal::state.refused; }

  // Whether the calling thread is inside a scope.
  static bool MustNotBlock() { return non_blocking_internal::state.active; }
  // Notes that the calling thread's work could not be done without blocking.
  static void NoteRefused() { non_blocking_internal::state.refused = true; }
  // Whether that was noted in the calling thread's current scope: whatever it does next is
  // thrown away, so it should not leave traces (an audit event).
  static bool Refused() {
    return non_blocking_internal::state.active && non_blocking_internal::state.refused;
  }

 private:
  const non_blocking_internal::State outer_;
};

}  // namespace coffer
