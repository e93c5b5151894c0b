// common/: tiny vocabulary shared by every layer (error results). Calls nothing.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace pocketlm {

// What kind of failure an error is, so that callers (the server's status codes) need not guess
// from the text: invalid_input (the caller's bad value: 400), not_found (no such model, name or
// file: 404), unsupported, io (the disk or the network), exhausted (memory, disk, slots),
// cancelled, internal (a bug, or not classified: the default).
enum class error_kind { invalid_input, not_found, unsupported, io, exhausted, cancelled, internal };

// A one-line, human-readable failure: names the field, the value and what was allowed.
struct error {
  std::string message;
  error_kind kind = error_kind::internal;
};

// Either a value or an error. Used at every boundary that reads untrusted input.
template <typename T>
class [[nodiscard]] result {
 public:
  result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
  result(error err) : state_(std::move(err)) {}  // NOLINT: implicit by design

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const std::string& error_message() const { return std::get<1>(state_).message; }
  error_kind kind() const { return std::get<1>(state_).kind; }
  const pocketlm::error& err() const { return std::get<1>(state_); }

 private:
  std::variant<T, pocketlm::error> state_;
};

// result<void> equivalent.
struct status {
  status() = default;
  status(error err) : failed_(true), message_(std::move(err.message)), kind_(err.kind) {}  // NOLINT
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const std::string& error_message() const { return message_; }
  error_kind kind() const { return kind_; }
  pocketlm::error err() const { return {message_, kind_}; }

 private:
  bool failed_ = false;
  std::string message_;
  error_kind kind_ = error_kind::internal;
};

}  // namespace pocketlm
