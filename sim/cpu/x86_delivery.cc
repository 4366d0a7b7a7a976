#include "sim/cpu/x86_delivery.h"

#include <cstdio>

#include "sim/cpu/x86_defs.h"

namespace hvsim::x86 {
namespace {

DeliveryResult fault(uint8_t vector, uint32_t error, std::string why) {
  DeliveryResult r;
  r.fault = Event{vector, EventKind::kFault, has_error_code(vector), error};
  r.why = std::move(why);
  return r;
}

DeliveryResult page_fault(const LinearAccess& a, const char* what) {
  if (a.fault.ok) {  // translated, but the physical address is not RAM
    DeliveryResult r;
    r.undeliverable = true;
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s at 0x%llx is outside guest RAM", what,
                  static_cast<unsigned long long>(a.fault_gva));
    r.why = buf;
    return r;
  }
  DeliveryResult r = fault(kPF, a.fault.pf_error, std::string("#PF while reading ") + what);
  r.fault_cr2 = a.fault_gva;
  return r;
}

std::string hex(const char* what, uint64_t v) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%s 0x%llx", what, static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

bool load_descriptor(PhysicalMemory& mem, const PagingMode& paging, uint64_t gdtr_base, uint32_t gdtr_limit,
                     uint16_t selector, SegmentCache& out, std::string& why) {
  if (selector & 4) { why = hex("LDT selector", selector); return false; }
  uint32_t index = selector & ~7u;
  if (index == 0 || index + 7 > gdtr_limit) { why = hex("selector outside the GDT", selector); return false; }
  uint64_t desc = 0;
  if (!read_linear(mem, paging, gdtr_base + index, &desc, sizeof desc, false).ok) {
    why = hex("cannot read GDT entry", selector);
    return false;
  }
  auto lo = static_cast<uint32_t>(desc), hi = static_cast<uint32_t>(desc >> 32);
  out.selector = selector;
  out.base = (lo >> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000u);
  uint32_t limit = (lo & 0xffff) | (hi & 0xf0000);
  out.limit = (hi & kDescG) ? (limit << 12) | 0xfff : limit;
  out.flags = hi & 0x00ffff00u;
  return true;
}

DeliveryResult deliver_event(PhysicalMemory& mem, const InterruptedState& s, const Event& e) {
  if (!(s.paging.efer & kEferLma)) {
    DeliveryResult r;
    r.undeliverable = true;
    r.why = "event outside long mode (only 64-bit IDTs are supported)";
    return r;
  }
  bool ext = e.kind == EventKind::kExternal;
  uint32_t idt_error = (static_cast<uint32_t>(e.vector) << 3) | 2u | (ext ? 1u : 0u);
  uint64_t gate_off = static_cast<uint64_t>(e.vector) * 16;
  if (gate_off + 15 > s.idtr_limit) return fault(kGP, idt_error, hex("IDT vector outside the IDT limit, vector", e.vector));

  uint64_t gate[2];
  LinearAccess a = read_linear(mem, s.paging, s.idtr_base + gate_off, gate, sizeof gate, false);
  if (!a.ok) return page_fault(a, "the IDT");
  uint8_t type = (gate[0] >> 40) & 0xf;
  unsigned gate_dpl = (gate[0] >> 45) & 3;
  bool present = (gate[0] >> 47) & 1;
  if (type != kGateInterrupt64 && type != kGateTrap64) return fault(kGP, idt_error, hex("IDT gate of bad type for vector", e.vector));
  bool software = e.kind == EventKind::kSoftwareInt || e.kind == EventKind::kTrap;
  if (software && gate_dpl < s.cpl) return fault(kGP, idt_error, hex("software interrupt through a gate of lower DPL, vector", e.vector));
  if (!present) return fault(kNP, idt_error, hex("IDT gate not present for vector", e.vector));

  auto selector = static_cast<uint16_t>(gate[0] >> 16);
  uint64_t target = (gate[0] & 0xffff) | ((gate[0] >> 32) & 0xffff0000ull) | (gate[1] << 32);
  unsigned ist = (gate[0] >> 32) & 7;

  SegmentCache cs;
  std::string why;
  if (!load_descriptor(mem, s.paging, s.gdtr_base, s.gdtr_limit, selector, cs, why))
    return fault(kGP, selector & 0xfffcu, "gate's code segment: " + why);
  bool code = (cs.flags & kDescS) && (cs.flags & 0x800);
  unsigned dpl = (cs.flags >> kDescDplShift) & 3;
  if (!code || !(cs.flags & kDescL) || dpl > s.cpl) return fault(kGP, selector & 0xfffcu, hex("gate's target is not a 64-bit code segment at or above CPL, selector", selector));
  if (!(cs.flags & kDescP)) return fault(kNP, selector & 0xfffcu, hex("gate's code segment not present, selector", selector));
  bool conforming = cs.flags & 0x400;
  unsigned new_cpl = conforming ? s.cpl : dpl;

  DeliveryResult r;
  r.cpl = new_cpl;
  uint64_t rsp = s.rsp;
  if (new_cpl != s.cpl || ist != 0) {
    uint64_t tss_off = ist != 0 ? 0x24 + 8ull * (ist - 1) : 4 + 8ull * new_cpl;
    a = read_linear(mem, s.paging, s.tr_base + tss_off, &rsp, sizeof rsp, false);
    if (!a.ok) return page_fault(a, "the TSS");
  }
  rsp &= ~0xfull;
  uint64_t frame[6];
  int n = 0;
  if (e.has_error) frame[n++] = e.error;
  frame[n++] = s.rip;
  frame[n++] = s.cs;
  frame[n++] = s.rflags;
  frame[n++] = s.rsp;
  frame[n++] = s.ss;
  // frame[] holds the pushes from the lowest address up; the stack grows down.
  uint64_t new_rsp = rsp - 8ull * static_cast<uint64_t>(n);
  a = write_linear(mem, s.paging, new_rsp, frame, 8ull * static_cast<uint64_t>(n), false);
  if (!a.ok) {
    if (a.fault.ok) return page_fault(a, "the interrupt stack");
    DeliveryResult pf = fault(kPF, a.fault.pf_error, "#PF pushing the interrupt frame");
    pf.fault_cr2 = a.fault_gva;
    return pf;
  }
  uint64_t canonical = static_cast<uint64_t>(static_cast<int64_t>(target << 16) >> 16);
  if (canonical != target) return fault(kGP, 0, hex("gate target not canonical", target));

  r.delivered = true;
  r.rip = target;
  r.rsp = new_rsp;
  r.rflags = s.rflags & ~(kRflagsTf | kRflagsNt | kRflagsRf | kRflagsVm);
  if (type == kGateInterrupt64) r.rflags &= ~kRflagsIf;
  r.cs = cs;
  r.cs.selector = static_cast<uint16_t>((selector & ~3u) | new_cpl);
  if (new_cpl != s.cpl) {
    r.stack_switched = true;
    r.ss.selector = static_cast<uint16_t>(new_cpl);
    r.ss.flags = new_cpl << kDescDplShift;
  }
  return r;
}

const char* exception_mnemonic(uint8_t v) {
  static const char* const kNames[] = {"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#CSO",
                                       "#TS", "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM",
                                       "#VE", "#CP"};
  return v < sizeof kNames / sizeof kNames[0] ? kNames[v] : "INT";
}

}  // namespace hvsim::x86
