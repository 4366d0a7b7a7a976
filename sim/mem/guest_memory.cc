#include "sim/mem/guest_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "sim/core/status.h"

namespace hvsim {

namespace {
constexpr uint64_t kPage = 4096;
}  // namespace

GuestMemory::GuestMemory(uint64_t size) : size_(size) {
  fd_ = memfd_create("hvsim-ram", MFD_CLOEXEC);
  if (fd_ < 0) throw UsageError(std::string("cannot create guest RAM: ") + std::strerror(errno));
  if (ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    close(fd_);
    throw UsageError(std::string("cannot size guest RAM: ") + std::strerror(errno));
  }
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) {
    close(fd_);
    throw UsageError(std::string("cannot map guest RAM: ") + std::strerror(errno));
  }
  base_ = static_cast<uint8_t*>(p);
}

GuestMemory::~GuestMemory() {
  for (uint8_t* a : aliases_) munmap(a, size_);
  for (uint8_t* p : overlay_pages_) munmap(p, kPage);
  if (overlay_fd_ >= 0) close(overlay_fd_);
  munmap(base_, size_);
  close(fd_);
}

uint8_t* GuestMemory::map_alias() {
  void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  SIM_ASSERT(p != MAP_FAILED, "cannot map a guest RAM alias");
  aliases_.push_back(static_cast<uint8_t*>(p));
  return aliases_.back();
}

GuestMemory::OverlayPage GuestMemory::allocate_overlay(GuestAccess access) {
  SIM_ASSERT(overlay_pages_.size() < kMaxOverlayPages, "too many overlay pages");
  if (overlay_fd_ < 0) {
    overlay_fd_ = memfd_create("hvsim-overlays", MFD_CLOEXEC);
    SIM_ASSERT(overlay_fd_ >= 0, "cannot create the overlay memory");
  }
  auto index = static_cast<uint32_t>(overlay_pages_.size());
  SIM_ASSERT(ftruncate(overlay_fd_, static_cast<off_t>((index + 1) * kPage)) == 0, "cannot grow the overlay memory");
  void* p = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, overlay_fd_, static_cast<off_t>(index * kPage));
  SIM_ASSERT(p != MAP_FAILED, "cannot map an overlay page");
  overlay_pages_.push_back(static_cast<uint8_t*>(p));
  overlay_access_.push_back(access);
  return OverlayPage{index, overlay_pages_.back()};
}

void GuestMemory::show_overlay(uint8_t* alias, uint64_t gpa, uint32_t index) {
  SIM_ASSERT(gpa % kPage == 0 && contains(gpa, kPage) && index < overlay_pages_.size(), "bad overlay placement");
  void* p = mmap(alias + gpa, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, overlay_fd_,
                 static_cast<off_t>(index * kPage));
  SIM_ASSERT(p == alias + gpa, "cannot show an overlay page");
}

void GuestMemory::show_ram(uint8_t* alias, uint64_t gpa) {
  SIM_ASSERT(gpa % kPage == 0 && contains(gpa, kPage), "bad overlay placement");
  void* p = mmap(alias + gpa, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd_, static_cast<off_t>(gpa));
  SIM_ASSERT(p == alias + gpa, "cannot restore a guest RAM page");
}

bool GuestMemory::read(uint64_t gpa, void* dst, size_t len) const {
  if (!contains(gpa, len)) return false;
  if (len) std::memcpy(dst, base_ + gpa, len);  // an empty span's data() may be null
  return true;
}

bool GuestMemory::write(uint64_t gpa, const void* src, size_t len) {
  if (!contains(gpa, len)) return false;
  if (len) std::memcpy(base_ + gpa, src, len);
  for (auto& l : listeners_) l(gpa, len);
  return true;
}

}  // namespace hvsim
