// Code that drops a Status or a StatusOr, which must not compile (common/status.h marks both
// [[nodiscard]] and the build adds -Werror=unused-result). The `dropped_result_*` ctest cases
// compile it with DROP set to each case and expect the compiler's unused-result error.
#include "common/status.h"

namespace coffer {

Status Check() { return OkStatus(); }
StatusOr<int> Count() { return 1; }
StatusOr<void> Touch() { return {}; }

void Drop() {
#if DROP == 1
  Check();
#elif DROP == 2
  Count();
#elif DROP == 3
  Touch();
#else
#error "set DROP to the case: 1 (Status), 2 (StatusOr<int>) or 3 (StatusOr<void>)"
#endif
}

}  // namespace coffer
