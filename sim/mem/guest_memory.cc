#include "sim/mem/guest_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "sim/core/status.h"

namespace hvsim {

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
  munmap(base_, size_);
  close(fd_);
}

uint8_t* GuestMemory::map_alias() {
  void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  SIM_ASSERT(p != MAP_FAILED, "cannot map a guest RAM alias");
  aliases_.push_back(static_cast<uint8_t*>(p));
  return aliases_.back();
}

bool GuestMemory::read(uint64_t gpa, void* dst, size_t len) const {
  if (!contains(gpa, len)) return false;
  std::memcpy(dst, base_ + gpa, len);
  return true;
}

bool GuestMemory::write(uint64_t gpa, const void* src, size_t len) {
  if (!contains(gpa, len)) return false;
  std::memcpy(base_ + gpa, src, len);
  for (auto& l : listeners_) l(gpa, len);
  return true;
}

}  // namespace hvsim
