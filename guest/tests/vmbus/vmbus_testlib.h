/* vmbus_testlib.h - what the VMBus test guests (guest/tests/vmbus/) share.
 *
 * CHECK(cond, fmt, ...) prints one "ok ..." or "FAIL ..." line and counts it; vt_finish() prints
 * "NAME: N of M checks passed" and returns the exit code (0 only if every check passed).
 * vt_start() brings the VMBus connection up on VP 0 (other VPs serve interrupts and never return)
 * and opens the hvsim `test` device's channel with `ring_pages` pages per direction and callback
 * `cb`, interrupts on VP 0; it returns the channel (with interrupts enabled from then on) or 0
 * (after a FAIL line). vt_offer() does the same up to the offer: it returns the test device's
 * primary channel, not yet opened (interrupts still disabled), or 0; it is vt_init() (VMBus
 * set-up of every VP; returns 1 on VP 0 if it worked) followed by vt_connect(0) (vmbus_connect
 * with that version cap, REQUESTOFFERS, the test channel or 0). vt_stop() closes it and
 * unloads. vt_wait() halts until cond(arg) holds or
 * timeout_us passes (1 if it held); vt_vp_index[] holds each VP's VP_INDEX.
 */
#ifndef VMBUS_TESTLIB_H
#define VMBUS_TESTLIB_H

#include "hvsim_guest.h"
#include "hvsim/hyperv.h"
#include "vmbus/vmbus.h"

#define HVSIM_MAX_TEST_VPS 64u

void vt_count(int ok);
#define CHECK(cond, fmt, ...)                                                                       \
    ({                                                                                              \
        int ok_ = !!(cond);                                                                         \
        vt_count(ok_);                                                                              \
        printf("%s " fmt "\n", ok_ ? "ok" : "FAIL", ##__VA_ARGS__);                                \
        ok_;                                                                                        \
    })

struct vmbus_channel *vt_offer(const char *name, uint32_t vp);
int vt_init(const char *name, uint32_t vp);
struct vmbus_channel *vt_connect(uint32_t max_version);
struct vmbus_channel *vt_start(const char *name, uint32_t vp, uint32_t ring_pages, vmbus_callback_t cb);
void vt_stop(struct vmbus_channel *ch);
int vt_wait(int (*cond)(void *arg), void *arg, uint64_t timeout_us);
int vt_finish(void);
extern volatile uint32_t vt_vp_index[HVSIM_MAX_TEST_VPS]; /* VP_INDEX of each VP, set in vt_start */

#endif
