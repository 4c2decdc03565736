#include "server/key_limiter.h"

#include "server/api_error.h"

namespace dsv4::server {

KeyLimiter::Slot::~Slot() { limiter_->Release(key_); }

std::unique_ptr<KeyLimiter::Slot> KeyLimiter::Acquire(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t& n = in_flight_[key];
  if (max_per_key_ > 0 && n >= max_per_key_) {
    throw ApiError(429, "Rate Limit Reached: at most " + std::to_string(max_per_key_) +
                            " concurrent requests per API key");
  }
  ++n;
  return std::make_unique<Slot>(this, key);
}

int64_t KeyLimiter::in_flight(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = in_flight_.find(key);
  return it == in_flight_.end() ? 0 : it->second;
}

void KeyLimiter::Release(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = in_flight_.find(key);
  if (it != in_flight_.end() && --it->second == 0) in_flight_.erase(it);
}

}  // namespace dsv4::server
