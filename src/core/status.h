// Error values for recoverable failures (bad input files, bad requests).
// Library code returns Status / Result<T>, or throws dsv4::Error internally and
// converts it to a Status at the layer boundary; it never calls exit().
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace dsv4 {

// An exception carrying a user-facing message; caught at layer boundaries.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

class Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Fail(std::string message) {
    Status s;
    s.ok_ = false;
    s.message_ = std::move(message);
    return s;
  }
  bool ok() const { return ok_; }
  const std::string& message() const { return message_; }

 private:
  bool ok_ = true;
  std::string message_;
};

// A value or an error message.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT
  static Result Fail(std::string message) { return Result(Status::Fail(std::move(message))); }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  const std::string& error() const { return status_.message(); }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

// Throws dsv4::Error with the message when the condition is false. A string_view, so a
// literal message costs nothing when the condition holds (as a const std::string& every
// call built a std::string, on the heap past 15 characters: checks in the forward pass
// allocated each step). Messages assembled from values belong in an `if` instead.
inline void Require(bool condition, std::string_view message) {
  if (!condition) throw Error(std::string(message));
}

}  // namespace dsv4

// Invariant checks: programming errors, not user input. Abort with a message.
#define DSV4_CHECK(cond)                                                              \
  do {                                                                                \
    if (!(cond)) ::dsv4::internal::CheckFailed(#cond, __FILE__, __LINE__);           \
  } while (0)

namespace dsv4::internal {
[[noreturn]] void CheckFailed(const char* cond, const char* file, int line);
}
