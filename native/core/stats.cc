#include "stats.h"

namespace ep {

int LatencyHistogram::bucket(uint64_t us) {
  if (us < 8) return static_cast<int>(us);
  int top = 63 - __builtin_clzll(us);  // >= 3
  int sub = static_cast<int>((us >> (top - 3)) & 7);
  int b = (top - 2) * 8 + sub;
  return b < kBuckets ? b : kBuckets - 1;
}

uint64_t LatencyHistogram::bucket_upper(int b) {
  if (b < 8) return static_cast<uint64_t>(b);
  int top = b / 8 + 2;
  uint64_t sub = static_cast<uint64_t>(b % 8);
  return ((8 + sub + 1) << (top - 3)) - 1;
}

void LatencyHistogram::record(uint64_t us) {
  counts_[bucket(us)].add();
  total_.add();
  sum_.add(us);
}

uint64_t LatencyHistogram::percentile(double p) const {
  uint64_t total = total_.get();
  if (total == 0) return 0;
  uint64_t want = static_cast<uint64_t>(p * static_cast<double>(total));
  if (want >= total) want = total - 1;
  uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += counts_[b].get();
    if (seen > want) return bucket_upper(b);
  }
  return bucket_upper(kBuckets - 1);
}

uint64_t LatencyHistogram::mean() const {
  uint64_t total = total_.get();
  return total ? sum_.get() / total : 0;
}

std::vector<std::pair<const char*, uint64_t>> Stats::snapshot(uint64_t now_ms) const {
  uint64_t start = start_ms.get();
  return {
      {"uptime_s", start && now_ms > start ? (now_ms - start) / 1000 : 0},
      {"users", users.get()},
      {"connections", connections.get()},
      {"peak_users", peak_users.get()},
      {"accepted", accepted.get()},
      {"rejected_full", rejected_full.get()},
      {"messages_in", messages_in.get()},
      {"deliveries", deliveries.get()},
      {"bytes_in", bytes_in.get()},
      {"bytes_out", bytes_out.get()},
      {"rooms", rooms.get()},
      {"latency_mean_us", latency.mean()},
      {"latency_p99_us", latency.percentile(0.99)},
      {"dropped_slow", dropped_slow.get()},
      {"tls_handshakes", tls_handshakes.get()},
      {"tls_failed", tls_failed.get()},
      {"tls_plaintext", tls_plaintext.get()},
      {"tls_timeouts", tls_timeouts.get()},
  };
}

}  // namespace ep
