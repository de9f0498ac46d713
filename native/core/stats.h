// Server counters. Written only by the engine thread and read from any thread (server.stats() runs
// on the JavaScript thread), so each counter is a relaxed atomic with a single writer: an increment
// is a plain load and store, no locked instruction on the hot path.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ep {

class Counter {
 public:
  void add(uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void sub(uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed); }
  void set(uint64_t n) { v_.store(n, std::memory_order_relaxed); }
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// Log-linear histogram of microseconds: 8 sub-buckets per power of two, so a percentile is within
// 12.5% of the truth, in constant memory.
class LatencyHistogram {
 public:
  static constexpr int kBuckets = 40 * 8;
  void record(uint64_t us);
  uint64_t percentile(double p) const;
  uint64_t mean() const;

 private:
  static int bucket(uint64_t us);
  static uint64_t bucket_upper(int b);
  Counter counts_[kBuckets];
  Counter total_;
  Counter sum_;
};

struct Stats {
  Counter start_ms;  // monotonic time of listen
  Counter users, connections, peak_users, accepted, rejected_full;
  Counter messages_in, deliveries, bytes_in, bytes_out, rooms, dropped_slow;
  // TLS: handshakes completed; connections dropped for a failed handshake or TLS error (garbage, an
  // old version, no shared cipher, a bad record); plaintext clients answered on a TLS port; handshakes
  // not finished within tlsHandshakeTimeoutMs.
  Counter tls_handshakes, tls_failed, tls_plaintext, tls_timeouts;
  LatencyHistogram latency;

  // name → value, in the order documented in docs/protocol.md.
  std::vector<std::pair<const char*, uint64_t>> snapshot(uint64_t now_ms) const;
};

}  // namespace ep
