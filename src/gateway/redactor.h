// Redactor: takes a binding's credential out of what an upstream sends back. An upstream may
// echo the credential (an error quoting the request, a debug endpoint), raw or in the forms it
// travelled in or that a reply would put it in: base64 (standard and URL-safe, with and
// without padding, and of "user:secret" for Basic), percent-encoded, JSON-escaped. Each
// occurrence of any form becomes "[REDACTED]". The body streams: Feed passes on at once all but
// the last (longest form − 1) bytes, which could be the start of an occurrence split across
// chunks. Not thread-safe (one per call); wipes every copy of the credential it held.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace coffer::gateway {

inline constexpr std::string_view kRedactedText = "[REDACTED]";

class Redactor {
 public:
  // `basic_user`: the user of a Basic credential kept apart from the secret (AuthSpec), whose
  // "user:secret" base64 form is then redacted too. An empty `secret` redacts nothing.
  explicit Redactor(std::string_view secret, std::string_view basic_user = {});
  ~Redactor();
  Redactor(const Redactor&) = delete;
  Redactor& operator=(const Redactor&) = delete;

  // The next part of the body, redacted, less what is held back; then call Finish.
  std::string Feed(std::string_view bytes);
  // What is still held back, redacted. The Redactor may be fed again afterwards.
  std::string Finish();
  // A whole header value, redacted (counted too).
  std::string RedactHeaderValue(std::string_view value);

  // How many occurrences were replaced so far.
  int64_t count() const { return count_; }
  // The most bytes Feed holds back: the longest form's length − 1 (0 for no forms).
  size_t max_held() const { return longest_ == 0 ? 0 : longest_ - 1; }

 private:
  // Replaces the occurrences in `data` that start before `limit` (leftmost first, the longest
  // form at a tie), appending to `out`; returns where the unprocessed rest begins (≥ limit).
  size_t Scan(std::string_view data, size_t limit, std::string& out);
  // Where the tail Feed holds back begins: the first position, within max_held() of the end,
  // from which the rest is a proper prefix of a form (data.size() when there is none).
  size_t HoldFrom(std::string_view data) const;

  std::vector<std::string> forms_;
  size_t longest_ = 0;
  std::string held_;
  int64_t count_ = 0;
};

}  // namespace coffer::gateway
