// Redactor: the forms of a credential, and a leftmost-longest multi-pattern scan over a
// stream that keeps back only what could still become an occurrence.
#include "gateway/redactor.h"

#include <algorithm>

#include "common/secret_buffer.h"
#include "gateway/text_encoding.h"

namespace coffer::gateway {

namespace {

void AddBase64Forms(std::string_view bytes, std::vector<std::string>& forms) {
  for (Base64Alphabet alphabet : {Base64Alphabet::kStandard, Base64Alphabet::kUrlSafe}) {
    for (bool pad : {true, false}) forms.push_back(Base64Encode(bytes, alphabet, pad));
  }
}

}  // namespace

Redactor::Redactor(std::string_view secret, std::string_view basic_user) {
  if (secret.empty()) return;
  forms_.emplace_back(secret);
  AddBase64Forms(secret, forms_);
  if (!basic_user.empty()) {
    std::string pair(basic_user);
    pair.push_back(':');
    pair.append(secret);
    AddBase64Forms(pair, forms_);
    SecureWipe(pair);
  }
  forms_.push_back(PercentEncode(secret));
  forms_.push_back(PercentEncode(secret, /*lower_hex=*/true));
  forms_.push_back(JsonEscape(secret));
  forms_.push_back(JsonEscape(secret, /*escape_slash=*/true));
  // Each form once (a secret of unreserved characters percent-encodes to itself).
  std::vector<std::string> unique;
  for (std::string& form : forms_) {
    if (!form.empty() && std::ranges::find(unique, form) == unique.end()) {
      unique.push_back(form);
    }
    SecureWipe(form);
  }
  forms_.swap(unique);
  for (const std::string& form : forms_) longest_ = std::max(longest_, form.size());
}

Redactor::~Redactor() {
  for (std::string& form : forms_) SecureWipe(form);
  SecureWipe(held_);
}

size_t Redactor::Scan(std::string_view data, size_t limit, std::string& out) {
  // next[i]: where forms_[i] next occurs at or after its last search (npos: nowhere).
  std::vector<size_t> next(forms_.size(), 0);
  std::vector<bool> searched(forms_.size(), false);
  size_t pos = 0;
  for (;;) {
    size_t best = std::string_view::npos;
    size_t best_size = 0;
    for (size_t i = 0; i < forms_.size(); ++i) {
      if (!searched[i] || (next[i] != std::string_view::npos && next[i] < pos)) {
        next[i] = data.find(forms_[i], pos);
        searched[i] = true;
      }
      if (next[i] < best || (next[i] == best && forms_[i].size() > best_size)) {
        best = next[i];
        best_size = forms_[i].size();
      }
    }
    if (best == std::string_view::npos || best >= limit) break;
    out.append(data.substr(pos, best - pos));
    out.append(kRedactedText);
    ++count_;
    pos = best + best_size;
  }
  if (limit > pos) {
    out.append(data.substr(pos, limit - pos));
    pos = limit;
  }
  return pos;
}

size_t Redactor::HoldFrom(std::string_view data) const {
  // Only a tail that may still become an occurrence waits for more bytes: an event stream's
  // small chunks pass at once unless they end like the start of a form.
  const size_t from = data.size() > max_held() ? data.size() - max_held() : 0;
  for (size_t p = from; p < data.size(); ++p) {
    const std::string_view tail = data.substr(p);
    for (const std::string& form : forms_) {
      if (tail.size() < form.size() && std::string_view(form).starts_with(tail)) return p;
    }
  }
  return data.size();
}

std::string Redactor::Feed(std::string_view bytes) {
  if (forms_.empty()) return std::string(bytes);
  std::string out;
  if (held_.empty()) {
    const size_t limit = HoldFrom(bytes);
    out.reserve(limit + kRedactedText.size());
    const size_t rest = Scan(bytes, limit, out);
    held_.assign(bytes.substr(rest));
    return out;
  }
  std::string work = held_;
  work.append(bytes);
  SecureWipe(held_);
  const size_t limit = HoldFrom(work);
  out.reserve(limit + kRedactedText.size());
  const size_t rest = Scan(work, limit, out);
  held_.assign(std::string_view(work).substr(rest));
  SecureWipe(work);
  return out;
}

std::string Redactor::Finish() {
  std::string out;
  if (held_.empty()) return out;
  (void)Scan(held_, held_.size(), out);  // the rest is all scanned: nothing is left over
  SecureWipe(held_);
  return out;
}

std::string Redactor::RedactHeaderValue(std::string_view value) {
  std::string out;
  if (forms_.empty()) return std::string(value);
  (void)Scan(value, value.size(), out);
  return out;
}

}  // namespace coffer::gateway
