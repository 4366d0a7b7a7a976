// Guest RAM: guest-physical addresses [0, size), backed by one memfd.
//
// The host sees RAM through base(); each CPU engine maps its own alias of the same memfd
// (map_alias). Overlay pages (hypervisor pages laid over guest RAM: hypercall page, SynIC pages,
// reference TSC page...) live in a second memfd; show_overlay() replaces one 4 KiB page of one
// alias by an overlay page (mmap MAP_FIXED), show_ram() puts the guest's own page back, unchanged
// (its RAM was never written). An overlay page is either guest-writable or read/execute only for
// the guest (the hypercall page, TLFS); CPU backends ask overlay_guest_writable() when they show
// it and turn a guest write to a read-only one into #GP. The host view base() always shows RAM. Host reads and writes are bounds-checked and
// return false outside RAM. Host writes notify listeners (CPU backends drop translated code that
// the write may have changed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace hvsim {

class GuestMemory {
 public:
  // Throws UsageError if the memory cannot be created.
  explicit GuestMemory(uint64_t size);
  ~GuestMemory();
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;

  uint64_t size() const { return size_; }
  uint8_t* base() const { return base_; }
  bool contains(uint64_t gpa, uint64_t len) const { return gpa <= size_ && len <= size_ - gpa; }

  bool read(uint64_t gpa, void* dst, size_t len) const;
  bool write(uint64_t gpa, const void* src, size_t len);
  template <typename T> bool read_obj(uint64_t gpa, T& out) const { return read(gpa, &out, sizeof out); }
  template <typename T> bool write_obj(uint64_t gpa, const T& v) { return write(gpa, &v, sizeof v); }

  // A new shared mapping of all of RAM for one CPU engine; unmapped by the destructor.
  uint8_t* map_alias();

  // A new zeroed overlay page; `host` stays valid for the memory's lifetime (the host always
  // writes it, whatever the guest may do). At most kMaxOverlayPages are ever allocated (the
  // machine allocates a fixed set per vCPU).
  struct OverlayPage { uint32_t index = 0; uint8_t* host = nullptr; };
  static constexpr uint32_t kMaxOverlayPages = 1024;
  enum class GuestAccess : uint8_t { kReadWrite, kReadExecute };
  OverlayPage allocate_overlay(GuestAccess access);
  // Overlay page `index`'s host page (index < the number allocated).
  uint8_t* overlay_host(uint32_t index) const { return overlay_pages_[index]; }
  bool overlay_guest_writable(uint32_t index) const {
    return index < overlay_access_.size() && overlay_access_[index] == GuestAccess::kReadWrite;
  }
  // Shows overlay page `index` at page-aligned `gpa` in `alias`, or the guest's RAM again.
  void show_overlay(uint8_t* alias, uint64_t gpa, uint32_t index);
  void show_ram(uint8_t* alias, uint64_t gpa);

  using WriteListener = std::function<void(uint64_t gpa, uint64_t len)>;
  void add_write_listener(WriteListener l) { listeners_.push_back(std::move(l)); }

 private:
  uint64_t size_;
  int fd_ = -1;
  uint8_t* base_ = nullptr;
  std::vector<uint8_t*> aliases_;
  int overlay_fd_ = -1;
  std::vector<uint8_t*> overlay_pages_;
  std::vector<GuestAccess> overlay_access_;
  std::vector<WriteListener> listeners_;
};

}  // namespace hvsim
