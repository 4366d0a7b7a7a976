// The console: a 16550 UART (docs/guest-contract.md §7). Transmit only: every byte written to THR
// goes to the sink at once; LSR always reports the transmitter empty, so polling guests never
// wait. IER, LCR, MCR, SCR and the divisor latch read back what was written; IIR reads "no
// interrupt pending"; RBR reads 0. No interrupts are raised (FUTURE: receive and IRQ 4).
#pragma once

#include <cstdint>
#include <functional>

#include "sim/machine/port_device.h"

namespace hvsim {

class Uart16550 final : public PortDevice {
 public:
  static constexpr uint16_t kCom1 = 0x3f8;
  static constexpr uint16_t kPorts = 8;
  using Sink = std::function<void(VcpuContext& v, uint8_t byte)>;
  explicit Uart16550(Sink sink) : sink_(std::move(sink)) {}

  uint32_t io_in(VcpuContext& v, uint16_t offset, unsigned size) override;
  void io_out(VcpuContext& v, uint16_t offset, unsigned size, uint32_t value) override;

 private:
  static constexpr uint8_t kLcrDlab = 0x80;
  Sink sink_;
  uint8_t ier_ = 0, lcr_ = 0x03, mcr_ = 0, scr_ = 0, dll_ = 0x01, dlm_ = 0;
};

}  // namespace hvsim
