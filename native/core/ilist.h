// Intrusive doubly-linked list, used for the inactivity lists.
//
// Each list holds clients in order of their last activity, and every client in one list shares the
// same timeout, so the list is also sorted by deadline: activity moves a client to the tail in O(1)
// and expiry only ever looks at the head. No scan over all clients, no timer per client.
#pragma once
#include <cstdint>

namespace ep {

template <typename T>
struct ILink {
  T* prev = nullptr;
  T* next = nullptr;
  int8_t list = -1;  // which list the node is in, -1 for none
};

// T must have a member `ILink<T> link`, or name another ILink member as L (a node is then in at most
// one list per link).
template <typename T, ILink<T> T::*L = &T::link>
class IList {
 public:
  explicit IList(int8_t id = 0) : id_(id) {}
  T* head() const { return head_; }
  bool empty() const { return head_ == nullptr; }
  size_t size() const { return size_; }

  void push_back(T* n) {
    ILink<T>& k = n->*L;
    k.prev = tail_;
    k.next = nullptr;
    k.list = id_;
    if (tail_) (tail_->*L).next = n; else head_ = n;
    tail_ = n;
    ++size_;
  }
  void remove(T* n) {
    ILink<T>& k = n->*L;
    if (k.prev) (k.prev->*L).next = k.next; else head_ = k.next;
    if (k.next) (k.next->*L).prev = k.prev; else tail_ = k.prev;
    k.prev = k.next = nullptr;
    k.list = -1;
    --size_;
  }
  void move_to_back(T* n) {
    if (tail_ == n) return;
    remove(n);
    push_back(n);
  }

 private:
  T* head_ = nullptr;
  T* tail_ = nullptr;
  size_t size_ = 0;
  int8_t id_;
};

}  // namespace ep
