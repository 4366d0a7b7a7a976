/* vmbus_testlib.c - shared set-up and reporting of the VMBus test guests (API in vmbus_testlib.h). */
#include "vmbus_testlib.h"

static const struct vmbus_guid test_class =
    VMBUS_GUID(0xb7a3a6ad, 0x5f26, 0x4e8b, 0x9b, 0x1d, 0x68, 0x76, 0x73, 0x6d, 0x00, 0x01);
static const char *test_name = "vmbus_test";
static uint32_t passed, total;
volatile uint32_t vt_vp_index[HVSIM_MAX_TEST_VPS];

void vt_count(int ok)
{
    total++;
    passed += ok != 0;
}

int vt_init(const char *name, uint32_t vp)
{
    int r = vmbus_vp_init();
    if (vp < HVSIM_MAX_TEST_VPS && !r)
        vt_vp_index[vp] = hv_vp_index();
    if (vp != 0)
        vmbus_ap_idle();
    test_name = name;
    return CHECK(r == 0, "Hyper-V runtime and SynIC set up (%d)", r);
}

struct vmbus_channel *vt_connect(uint32_t max_version)
{
    int r = vmbus_connect(max_version);
    uint32_t v = vmbus_version();
    if (!CHECK(r == 0, "connected, VMBus version %u.%u (%d)", v >> 16, v & 0xFFFF, r))
        return 0;
    r = vmbus_request_offers();
    if (!CHECK(r == 0, "offers delivered (%d)", r))
        return 0;
    struct vmbus_channel *ch = vmbus_find_channel(&test_class);
    CHECK(ch != 0, "the test device is offered (relid %u)", ch ? ch->relid : 0);
    return ch;
}

struct vmbus_channel *vt_offer(const char *name, uint32_t vp)
{
    return vt_init(name, vp) ? vt_connect(0) : 0;
}

struct vmbus_channel *vt_start(const char *name, uint32_t vp, uint32_t ring_pages, vmbus_callback_t cb)
{
    struct vmbus_channel *ch = vt_offer(name, vp);
    if (!ch)
        return 0;
    int r = vmbus_open(ch, ring_pages, hv_vp_index(), cb, 0);
    if (!CHECK(r == 0, "test channel opened with %u + %u ring pages (%d)", ring_pages, ring_pages, r))
        return 0;
    sti(); /* from here on callbacks also run between the test's own steps */
    return ch;
}

void vt_stop(struct vmbus_channel *ch)
{
    int r = vmbus_close(ch);
    CHECK(r == 0, "test channel closed, ring GPADL torn down (%d)", r);
    r = vmbus_unload();
    CHECK(r == 0, "UNLOAD answered (%d)", r);
}

int vt_wait(int (*cond)(void *arg), void *arg, uint64_t timeout_us)
{
    int ok = hv_wait(cond, arg, timeout_us);
    vmbus_poll();
    return ok;
}

int vt_finish(void)
{
    printf("%s: %u of %u checks passed\n", test_name, passed, total);
    return passed == total && total > 0 ? 0 : 1;
}
