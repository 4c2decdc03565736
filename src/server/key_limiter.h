// Per-API-key concurrency limit (DeepSeek limits concurrency, not rate: api.md §2.13).
// A request holds a slot from admission until its response is finished; one over the
// limit is refused with 429. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace dsv4::server {

class KeyLimiter {
 public:
  explicit KeyLimiter(int64_t max_per_key) : max_per_key_(max_per_key) {}

  // Releases its slot when destroyed.
  class Slot {
   public:
    Slot(KeyLimiter* limiter, std::string key) : limiter_(limiter), key_(std::move(key)) {}
    ~Slot();
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;

   private:
    KeyLimiter* limiter_;
    std::string key_;
  };

  // A slot for `key`, or throws ApiError 429 when the key is at its limit. max_per_key
  // <= 0 means unlimited.
  std::unique_ptr<Slot> Acquire(const std::string& key);
  int64_t in_flight(const std::string& key) const;

 private:
  void Release(const std::string& key);
  const int64_t max_per_key_;
  mutable std::mutex mu_;
  std::map<std::string, int64_t> in_flight_;
};

}  // namespace dsv4::server
