#include "models/hv/enlightenments.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <system_error>
#include <vector>

#include "sim/core/status.h"
#include "sim/core/text.h"

namespace hvsim::hv {
namespace {

using BoolField = bool Enlightenments::*;
using VersionField = std::optional<uint32_t> Enlightenments::*;

struct BoolFlag {
  std::string_view name;
  BoolField field;
  bool enlightenment;  // part of hv-passthrough and of any_enlightenment()
  bool accepts_auto;   // on|off|auto instead of on|off
};

// Canonical order (to_string) follows QEMU docs/system/i386/hyperv.rst.
constexpr std::array<BoolFlag, 19> kBoolFlags = {{
    {"hv-relaxed", &Enlightenments::relaxed, true, false},
    {"hv-vapic", &Enlightenments::vapic, true, false},
    {"hv-vpindex", &Enlightenments::vpindex, true, false},
    {"hv-runtime", &Enlightenments::runtime, true, false},
    {"hv-crash", &Enlightenments::crash, true, false},
    {"hv-time", &Enlightenments::time, true, false},
    {"hv-synic", &Enlightenments::synic, true, false},
    {"hv-stimer", &Enlightenments::stimer, true, false},
    {"hv-stimer-direct", &Enlightenments::stimer_direct, true, false},
    {"hv-tlbflush", &Enlightenments::tlbflush, true, false},
    {"hv-tlbflush-ext", &Enlightenments::tlbflush_ext, true, false},
    {"hv-ipi", &Enlightenments::ipi, true, false},
    {"hv-reset", &Enlightenments::reset, true, false},
    {"hv-frequencies", &Enlightenments::frequencies, true, false},
    {"hv-reenlightenment", &Enlightenments::reenlightenment, true, false},
    {"hv-avic", &Enlightenments::avic, true, false},
    {"hv-no-nonarch-coresharing", &Enlightenments::no_nonarch_coresharing, true, true},
    {"hv-xmm-input", &Enlightenments::xmm_input, true, false},
    {"hv-enforce-cpuid", &Enlightenments::enforce_cpuid, false, false},
}};

struct VersionFlag {
  std::string_view name;
  VersionField field;
  uint32_t max;  // register field width (hyperv.rst: 32/16/16/32/8/24 bits)
};

constexpr std::array<VersionFlag, 6> kVersionFlags = {{
    {"hv-version-id-build", &Enlightenments::version_build, 0xFFFFFFFF},
    {"hv-version-id-major", &Enlightenments::version_major, 0xFFFF},
    {"hv-version-id-minor", &Enlightenments::version_minor, 0xFFFF},
    {"hv-version-id-spack", &Enlightenments::version_spack, 0xFFFFFFFF},
    {"hv-version-id-sbranch", &Enlightenments::version_sbranch, 0xFF},
    {"hv-version-id-snumber", &Enlightenments::version_snumber, kHvServiceNumberMask},
}};

// QEMU flags hvsim knows but does not model.
struct Unsupported {
  std::string_view name;
  std::string_view why;
};
constexpr std::array<Unsupported, 4> kUnsupported = {{
    {"hv-evmcs", "nested virtualization is not modelled"},
    {"hv-emsr-bitmap", "nested virtualization is not modelled"},
    {"hv-tlbflush-direct", "nested virtualization is not modelled"},
    {"hv-syndbg", "the synthetic debugger is not modelled"},
}};

// Dependency rules, checked in this order. Sources:
//  - hv-synic -> hv-vpindex: hyperv.rst "Requires: hv-vpindex"; PROTOCOL §1.8.
//  - hv-stimer -> hv-vpindex, hv-synic, hv-time: hyperv.rst; PROTOCOL §1.8 (kvm.c checks
//    synic + time, the docs add vpindex).
//  - hv-stimer-direct -> hv-vpindex, hv-synic, hv-time, hv-stimer: hyperv.rst; PROTOCOL §1.8
//    lists hv-stimer (kvm.c), which implies the rest.
//  - hv-tlbflush -> hv-vpindex, hv-ipi -> hv-vpindex, hv-tlbflush-ext -> hv-tlbflush: hyperv.rst
//    and PROTOCOL §1.8.
// Deliberately not a rule: hv-reenlightenment -> hv-frequencies. hyperv.rst lists hv-frequencies
// only as "Recommended" and PROTOCOL §1.8 gives no requirement.
struct Dependency {
  BoolField feature;
  std::array<BoolField, 4> needs;  // unused slots are nullptr
};
constexpr std::array<Dependency, 6> kDependencies = {{
    {&Enlightenments::synic, {&Enlightenments::vpindex, nullptr, nullptr, nullptr}},
    {&Enlightenments::stimer,
     {&Enlightenments::vpindex, &Enlightenments::synic, &Enlightenments::time, nullptr}},
    {&Enlightenments::stimer_direct,
     {&Enlightenments::vpindex, &Enlightenments::synic, &Enlightenments::time,
      &Enlightenments::stimer}},
    {&Enlightenments::tlbflush, {&Enlightenments::vpindex, nullptr, nullptr, nullptr}},
    {&Enlightenments::tlbflush_ext, {&Enlightenments::tlbflush, nullptr, nullptr, nullptr}},
    {&Enlightenments::ipi, {&Enlightenments::vpindex, nullptr, nullptr, nullptr}},
}};

// KVM's KVM_GET_SUPPORTED_HV_CPUID spinlock count ("matches Hyper-V 2016"), taken by QEMU's
// hv-passthrough.
constexpr uint32_t kPassthroughSpinlocks = 0xFFF;

[[noreturn]] void fail(std::string_view message) {
  throw UsageError("--hv: " + std::string(message));
}

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

std::string_view name_of(BoolField field) {
  for (const BoolFlag& f : kBoolFlags) {
    if (f.field == field) return f.name;
  }
  return {};
}

std::string hex(uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, 16);
  return "0x" + std::string(buf, r.ptr);
}

// Decimal or 0x-prefixed hex, no sign, no spaces, at most `max`.
uint32_t parse_number(std::string_view flag, std::string_view value, uint32_t max) {
  std::string_view digits = value;
  int base = 10;
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
    digits.remove_prefix(2);
    base = 16;
  }
  uint64_t n = 0;
  auto r = std::from_chars(digits.data(), digits.data() + digits.size(), n, base);
  bool whole = r.ptr == digits.data() + digits.size();
  if (digits.empty() || !whole || (r.ec != std::errc() && r.ec != std::errc::result_out_of_range)) {
    fail(std::string(flag) + ": expected a number, got " + quoted(value));
  }
  if (r.ec == std::errc::result_out_of_range || n > max) {
    fail(std::string(flag) + ": " + quoted(value) + " is out of range (at most " + hex(max) + ")");
  }
  return static_cast<uint32_t>(n);
}

bool parse_switch(std::string_view flag, std::optional<std::string_view> value, bool accepts_auto) {
  if (!value || *value == "on" || *value == "yes" || *value == "true") return true;
  if (*value == "off" || *value == "no" || *value == "false") return false;
  if (accepts_auto && *value == "auto") return true;
  fail(std::string(flag) + ": expected " + (accepts_auto ? "on, off or auto" : "on or off") +
       ", got " + quoted(*value));
}

void check_vendor(std::string_view vendor) {
  bool printable =
      std::all_of(vendor.begin(), vendor.end(), [](char c) { return c >= 0x20 && c <= 0x7E; });
  if (vendor.empty() || vendor.size() > kHvVendorIdMaxLength || !printable) {
    fail("hv-vendor-id: expected 1 to 12 printable characters, got " + quoted(vendor));
  }
}

struct Item {
  std::string_view written;  // name as written, for messages
  std::string name;          // canonical spelling
  std::optional<std::string_view> value;
};

std::vector<Item> split_items(std::string_view list) {
  std::vector<Item> items;
  for (std::string_view text : split_list(list, ',')) {
    if (text.empty()) continue;
    size_t eq = text.find('=');
    Item item{text.substr(0, eq), std::string(text.substr(0, eq)), std::nullopt};
    std::replace(item.name.begin(), item.name.end(), '_', '-');
    if (item.name == "hv-apicv") item.name = "hv-avic";
    if (eq != std::string_view::npos) item.value = text.substr(eq + 1);
    items.push_back(std::move(item));
  }
  return items;
}

void apply(Enlightenments& e, const Item& item) {
  for (const BoolFlag& f : kBoolFlags) {
    if (item.name == f.name) {
      e.*f.field = parse_switch(f.name, item.value, f.accepts_auto);
      return;
    }
  }
  for (const VersionFlag& f : kVersionFlags) {
    if (item.name == f.name) {
      e.*f.field = parse_number(f.name, item.value.value_or(""), f.max);
      return;
    }
  }
  if (item.name == "hv-spinlocks") {
    e.spinlocks = parse_number("hv-spinlocks", item.value.value_or(""), 0xFFFFFFFF);
    return;
  }
  if (item.name == "hv-vendor-id") {
    check_vendor(item.value.value_or(""));
    e.vendor_id = std::string(*item.value);
    return;
  }
  for (const Unsupported& u : kUnsupported) {
    if (item.name == u.name) {
      fail(quoted(item.written) + " is not supported (" + std::string(u.why) + ")");
    }
  }
  fail("unknown enlightenment " + quoted(item.written));
}

}  // namespace

Enlightenments parse_enlightenments(std::string_view comma_separated) {
  std::vector<Item> items = split_items(comma_separated);
  bool passthrough = false;
  for (const Item& item : items) {
    if (item.name == "hv-passthrough") passthrough = parse_switch("hv-passthrough", item.value, false);
  }
  Enlightenments e = passthrough ? all_enlightenments() : Enlightenments{};
  for (const Item& item : items) {
    if (item.name != "hv-passthrough") apply(e, item);
  }
  return e;
}

void validate(const Enlightenments& e) {
  for (const Dependency& d : kDependencies) {
    if (!(e.*d.feature)) continue;
    std::string missing;
    for (BoolField need : d.needs) {
      if (need == nullptr || e.*need) continue;
      missing += (missing.empty() ? "" : ", ") + std::string(name_of(need));
    }
    if (!missing.empty()) fail(std::string(name_of(d.feature)) + " requires " + missing);
  }
  check_vendor(e.vendor_id);
  for (const VersionFlag& f : kVersionFlags) {
    const std::optional<uint32_t>& v = e.*f.field;
    if (v && *v > f.max) {
      fail(std::string(f.name) + ": " + hex(*v) + " is out of range (at most " + hex(f.max) + ")");
    }
  }
}

std::string to_string(const Enlightenments& e) {
  std::string out;
  auto add = [&out](std::string_view item) {
    if (!out.empty()) out += ',';
    out += item;
  };
  for (const BoolFlag& f : kBoolFlags) {
    if (e.*f.field) add(f.name);
  }
  if (e.spinlocks != kHvSpinlockNeverNotify) add("hv-spinlocks=" + hex(e.spinlocks));
  if (e.vendor_id != kHvVendorMicrosoftHv) add("hv-vendor-id=" + e.vendor_id);
  for (const VersionFlag& f : kVersionFlags) {
    if (e.*f.field) add(std::string(f.name) + "=" + std::to_string(*(e.*f.field)));
  }
  return out;
}

Enlightenments all_enlightenments() {
  Enlightenments e;
  for (const BoolFlag& f : kBoolFlags) {
    if (f.enlightenment) e.*f.field = true;
  }
  e.spinlocks = kPassthroughSpinlocks;
  return e;
}

bool any_enlightenment(const Enlightenments& e) {
  if (e.spinlocks != kHvSpinlockNeverNotify) return true;
  return std::any_of(kBoolFlags.begin(), kBoolFlags.end(),
                     [&e](const BoolFlag& f) { return f.enlightenment && e.*f.field; });
}

}  // namespace hvsim::hv
