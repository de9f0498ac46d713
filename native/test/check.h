// The C tests' harness, shared by every test program under native/test:
//
//   TEST(name) { bool ok = true; CHECK(cond); …; return ok; }   registers a case
//   return check::run_all();                                      runs them in order
//
// A failed CHECK prints one line (case, condition, file:line) and fails its case; run_all prints
// "N passed, N failed" (the line CI sums) and returns the exit status. `after_each` runs after every
// case (e.g. to clear a library's error queue).
#pragma once
#include <cstdio>
#include <functional>
#include <utility>
#include <vector>

namespace check {

struct Case {
  const char* name;
  std::function<bool()> fn;
};

inline std::vector<Case>& cases() {
  static std::vector<Case> v;
  return v;
}

inline const char* current = "";

struct Reg {
  Reg(const char* n, std::function<bool()> f) { cases().push_back({n, std::move(f)}); }
};

inline int run_all(const std::function<void()>& after_each = {}) {
  int passed = 0, failed = 0;
  for (const Case& c : cases()) {
    current = c.name;
    bool ok = c.fn();
    if (after_each) after_each();
    if (ok) ++passed;
    else ++failed;
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}

}  // namespace check

#define CHECK(cond)                                                                          \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::printf("FAIL %s: %s (%s:%d)\n", check::current, #cond, __FILE__, __LINE__);       \
      ok = false;                                                                            \
    }                                                                                        \
  } while (0)

#define TEST(name)                                   \
  static bool name();                                \
  static check::Reg reg_##name(#name, name);         \
  static bool name()
