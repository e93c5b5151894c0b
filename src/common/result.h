// common/: tiny vocabulary shared by every layer (error results). Calls nothing.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace pocketlm {

// A one-line, human-readable failure: names the field, the value and what was allowed.
struct error {
  std::string message;
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
  const pocketlm::error& err() const { return std::get<1>(state_); }

 private:
  std::variant<T, pocketlm::error> state_;
};

// result<void> equivalent.
struct status {
  status() = default;
  status(error err) : failed_(true), message_(std::move(err.message)) {}  // NOLINT
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const std::string& error_message() const { return message_; }

 private:
  bool failed_ = false;
  std::string message_;
};

}  // namespace pocketlm
