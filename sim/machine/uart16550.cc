#include "sim/machine/uart16550.h"

namespace hvsim {

uint32_t Uart16550::io_in(VcpuContext&, uint16_t offset, unsigned) {
  bool dlab = lcr_ & kLcrDlab;
  switch (offset) {
    case 0: return dlab ? dll_ : 0;         // RBR: nothing ever received
    case 1: return dlab ? dlm_ : ier_;
    case 2: return 0x01;                    // IIR: no interrupt pending
    case 3: return lcr_;
    case 4: return mcr_;
    case 5: return 0x60;                    // LSR: THR empty, transmitter empty
    case 6: return 0xb0;                    // MSR: CTS, DSR, DCD
    case 7: return scr_;
    default: return 0xff;
  }
}

void Uart16550::io_out(VcpuContext& v, uint16_t offset, unsigned, uint32_t value) {
  auto byte = static_cast<uint8_t>(value);
  bool dlab = lcr_ & kLcrDlab;
  switch (offset) {
    case 0: if (dlab) dll_ = byte; else sink_(v, byte); break;
    case 1: if (dlab) dlm_ = byte; else ier_ = byte & 0x0f; break;
    case 3: lcr_ = byte; break;
    case 4: mcr_ = byte & 0x1f; break;
    case 7: scr_ = byte; break;
    default: break;  // FCR and read-only registers
  }
}

}  // namespace hvsim
