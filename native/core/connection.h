// The connection layer: one accepted (or adopted) socket, whatever protocol it speaks.
//
// A Connection owns what every protocol needs from a socket: its descriptor and transport (plain TCP
// or TLS: transport.h, tls_transport.h), its registration in the loop (Handler, loop.h), the events it wants
// (reading, held off while the host works; EPOLLOUT only while the socket is full), its output queue
// (OutQ: shared buffers, one gathered write per pass), the flush list link, the linger/FIN state, its
// place in an inactivity list and its id (slot + generation, in a Connections table).
//
// What a connection is to the chat (nick, room, protocol state) lives in Client, which derives from
// Connection (client.h). The server owns the policy (what a read means, when to close): a
// Connection's events go to its ConnectionOwner.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ilist.h"
#include "loop.h"
#include "outq.h"
#include "tls_transport.h"
#include "transport.h"

namespace ep {

class Connection;

// The loop handler of an owner's connections: one for all of them, each registration's context being
// its Connection. (A Connection is not itself a Handler: it stays a plain struct, with no virtual
// table, so freeing one is a plain delete; UBSan's vptr check of a polymorphic delete needs a spare
// descriptor, which a server out of descriptors (EMFILE) does not have.)
class ConnectionOwner : public Handler {
 public:
  virtual void on_connection_io(Connection* c, uint32_t events) = 0;

 private:
  void on_io(uint32_t events, void* ctx) final { on_connection_io(static_cast<Connection*>(ctx), events); }
};

class Connection {
 public:
  Connection() = default;
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  uint64_t id() const { return (static_cast<uint64_t>(gen) << 20) | slot; }

  // Takes fd (connected, non-blocking) and watches it for input. False with errno set when the epoll
  // set refused it (the descriptor is then still the caller's to close).
  bool attach(Loop& loop, int fd, ConnectionOwner* o);
  // Reading off takes EPOLLIN and EPOLLRDHUP out of the set (level-triggered, either would fire every
  // pass); a reset still shows as EPOLLHUP / EPOLLERR, which epoll always reports. False when the
  // epoll set refused the change (errno set): a connection that cannot be woken would hang, so the
  // caller drops it.
  bool set_reading(Loop& loop, bool on);
  bool set_want_write(Loop& loop, bool on);

  // Through the transport.
  ssize_t read(char* buf, size_t n) { return transport->read(buf, n); }
  // Writes the queue, then whatever the transport holds of its own (TLS records): Done only when both
  // are empty; Blocked when the socket is full; Error with errno in *err.
  FlushResult write_out(size_t* written, int* err);
  int shutdown_write() { return transport->shutdown_write(); }
  // After the last byte of a closing connection: sends FIN, then the connection lingers (reading and
  // discarding) until the peer's, so that bytes it is still sending don't turn our close into a reset
  // that could destroy the lines just sent. True when there is nothing to linger for: the shutdown
  // failed (the peer is gone: ENOTCONN), the peer half-closed already, or (shutting_down) it has
  // acknowledged every byte.
  bool end_output(bool shutting_down) {
    wr_shut = true;
    return shutdown_write() != 0 || peer_eof || (shutting_down && delivered());
  }
  // Bytes still to write: queued, or held by the transport (TLS records).
  bool output_pending() const { return !out.empty() || transport->want_write(); }
  bool delivered() const { return transport->delivered(); }

  // Leaves the loop and closes the descriptor; the output queue is dropped. False when EPOLL_CTL_DEL
  // failed (errno set; closing took the descriptor out of the set anyway): the caller reports it.
  bool close_fd(Loop& loop);

  uint32_t slot = 0;
  uint32_t gen = 0;
  int fd = -1;
  Loop::Id reg = 0;          // the loop registration, 0 when not watched
  bool dirty = false;        // on the flush list for this pass
  bool want_write = false;   // EPOLLOUT armed: the socket was full
  bool peer_eof = false;     // the peer half-closed (read returned 0)
  bool wr_shut = false;      // we sent FIN after the last queued byte
  bool reading = true;       // EPOLLIN armed: off while a command waits on the host
  bool read_listed = false;  // on the owner's pending-read list (input waits in the transport)

  ILink<Connection> link;    // inactivity list (registration, idle or linger)
  uint64_t last_ms = 0;      // last activity, the key the inactivity lists are sorted by
  Connection* next_dirty = nullptr;

  // The TLS seam: a TLS connection owns its TlsTransport and points transport at it (use_tls).
  TcpTransport tcp;
  std::unique_ptr<TlsTransport> tls;
  Transport* transport = &tcp;
  void use_tls(std::unique_ptr<TlsTransport> t) {
    tls = std::move(t);
    transport = tls.get();
  }
  OutQ out;

 private:
  bool apply_events(Loop& loop);
};

// The inactivity lists hold Connections; each list's entries share one timeout, so it is sorted by
// deadline (ilist.h).
using Inactivity = IList<Connection>;

// Every connection by id, and their lifetimes. T is the server's connection type (Client). A slot is
// emptied when its connection is freed (free_retired, after the loop pass in which it was closed) and
// reused with a new generation, so ids (host commands, lists that outlive a pass) go stale, not wild.
template <typename T>
class Connections {
 public:
  static constexpr uint32_t kSlotBits = 20;
  static constexpr uint32_t kMaxSlots = 1u << kSlotBits;

  Connections() = default;
  Connections(const Connections&) = delete;
  Connections& operator=(const Connections&) = delete;
  ~Connections() {
    for (T* c : slots_) delete c;  // closed ones too: each is in its slot until freed
  }

  bool full() const { return slots_.size() - free_.size() >= kMaxSlots; }

  // Gives c a slot and a generation: its id.
  void insert(T* c) {
    uint32_t s = take_slot(slots_, free_);
    c->slot = s;
    c->gen = next_gen_++;
    if (next_gen_ >= (1u << 31)) next_gen_ = 1;  // ids stay below 2^51: exact in a JS number
    slots_[s] = c;
  }
  // Frees c at once: only for one never registered anywhere (adopt failed).
  void discard(T* c) {
    slots_[c->slot] = nullptr;
    free_.push_back(c->slot);
    delete c;
  }
  T* find(uint64_t id) const {
    uint32_t s = static_cast<uint32_t>(id & (kMaxSlots - 1));
    uint32_t gen = static_cast<uint32_t>(id >> kSlotBits);
    if (s >= slots_.size()) return nullptr;
    T* c = slots_[s];
    return c && c->gen == gen ? c : nullptr;
  }
  // Every slot (null where free), closed-but-not-freed connections included.
  const std::vector<T*>& all() const { return slots_; }

  // c was closed (its descriptor too): free it after the pass, when no event of this pass can name it.
  void retire(T* c) { closed_.push_back(c); }
  void free_retired() {
    size_t kept = 0;
    for (T* c : closed_) {
      // Still linked on the flush list (not expected: the flush list is drained first): later.
      if (c->dirty) {
        closed_[kept++] = c;
        continue;
      }
      discard(c);
    }
    closed_.resize(kept);
  }

  // The flush list: connections with output queued this pass, intrusive, drained every pass.
  void mark_dirty(T* c) {
    if (c->dirty || c->want_write) return;
    c->dirty = true;
    c->next_dirty = dirty_;
    dirty_ = c;
  }
  bool any_dirty() const { return dirty_ != nullptr; }
  T* pop_dirty() {
    T* c = static_cast<T*>(dirty_);
    if (!c) return nullptr;
    dirty_ = c->next_dirty;
    c->next_dirty = nullptr;
    c->dirty = false;
    return c;
  }

 private:
  std::vector<T*> slots_;
  std::vector<uint32_t> free_;
  std::vector<T*> closed_;
  Connection* dirty_ = nullptr;
  uint32_t next_gen_ = 1;
};

}  // namespace ep
