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

// T must have a member `ILink<T> link`.
template <typename T>
class IList {
 public:
  explicit IList(int8_t id = 0) : id_(id) {}
  T* head() const { return head_; }
  bool empty() const { return head_ == nullptr; }
  size_t size() const { return size_; }

  void push_back(T* n) {
    n->link.prev = tail_;
    n->link.next = nullptr;
    n->link.list = id_;
    if (tail_) tail_->link.next = n; else head_ = n;
    tail_ = n;
    ++size_;
  }
  void remove(T* n) {
    if (n->link.prev) n->link.prev->link.next = n->link.next; else head_ = n->link.next;
    if (n->link.next) n->link.next->link.prev = n->link.prev; else tail_ = n->link.prev;
    n->link.prev = n->link.next = nullptr;
    n->link.list = -1;
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
