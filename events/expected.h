#pragma once
// wharf's one error convention: functions that can fail for reasons a caller
// must handle return Expected<T, E>; exceptions are reserved for the edges
// (CLI, HTTP handlers) and for programming errors. A minimal stand-in for
// C++23 std::expected, which GCC 12's C++20 mode lacks.
#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

namespace wharf {

template <typename E>
struct Unexpected {
  E error;
};

template <typename E>
Unexpected<std::decay_t<E>> unexpected(E&& e) {
  return {std::forward<E>(e)};
}

template <typename T, typename E>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  template <typename G>
  Expected(Unexpected<G> u) : v_(std::in_place_index<1>, E(std::move(u.error))) {}

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & { assert(has_value()); return std::get<0>(v_); }
  const T& value() const& { assert(has_value()); return std::get<0>(v_); }
  T&& value() && { assert(has_value()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const E& error() const& { assert(!has_value()); return std::get<1>(v_); }
  E& error() & { assert(!has_value()); return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

// Expected<void, E>: success carries nothing.
template <typename E>
class [[nodiscard]] Expected<void, E> {
 public:
  Expected() = default;
  template <typename G>
  Expected(Unexpected<G> u) : error_(E(std::move(u.error))), ok_(false) {}

  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const E& error() const { assert(!ok_); return error_; }

 private:
  E error_{};
  bool ok_ = true;
};

}  // namespace wharf
