/* features.c - the VMBus 6.0 ("Copper") connection features (PROTOCOL.md §5.2, §5.4, §5.5).
 *
 * The guest chooses the feature flags its next INITIATE_CONTACT asks for (vmbus_request_features;
 * connection.c sends them only when it offers 6.0). The host answers VERSION_RESPONSE2 with the
 * subset it grants; a 16-byte VERSION_RESPONSE grants nothing. A granted bit the guest did not ask
 * for is a protocol error and is dropped. What each granted bit changes lives with its mechanism:
 * OpenChannel2 in channel.c (0x1, 0x2), MODIFY_CONNECTION here (0x4): posted only when 0x4 was
 * granted, it waits for MODIFY_CONNECTION_RESPONSE (a response nobody waits for is a protocol
 * error) and, on success, moves the library's monitor bits to the new child->parent page, or to
 * hypercalls when both pages were dropped. A success the protocol does not allow (exactly one
 * page named) is a protocol error; the library then signals by hypercall.
 */
#include "internal.h"

void vmbus_request_features(uint32_t flags)
{
    vmbus_conn.features_requested = flags;
}

uint32_t vmbus_features(void)
{
    return vmbus_conn.features;
}

uint32_t vmbus_features_granted(uint32_t version)
{
    if (version < VMBUS_VERSION_WIN10_V6_0)
        return 0;
    uint32_t asked = vmbus_conn.features_requested, granted = vmbus_conn.version_resp_features;
#ifdef HVSIM_BUGGY_TRUST_FEATURE_GRANT
    (void)asked;
    return granted; /* deliberate bug for guest/buggy: believes every bit the host grants */
#else
    if (granted & ~asked)
        vmbus_protocol_error("VERSION_RESPONSE2 grants features not asked for", granted & ~asked);
    return granted & asked;
#endif
}

void vmbus_on_modify_connection_response(const struct vmbus_modify_connection_response *m)
{
    if (!vmbus_conn.modify_conn_pending) {
        vmbus_protocol_error("MODIFY_CONNECTION_RESPONSE for no pending MODIFY_CONNECTION", m->connection_state);
        return;
    }
    vmbus_conn.modify_conn_state = m->connection_state;
    vmbus_conn.modify_conn_pending = 0;
    vmbus_conn.modify_conn_done = 1;
}

static int modify_answered(void *p)
{
    (void)p;
    return vmbus_conn.modify_conn_done != 0;
}

int vmbus_modify_connection(uint64_t parent_to_child, uint64_t child_to_parent)
{
    if (!vmbus_conn.version)
        return VMBUS_EINVAL;
    if (!(vmbus_conn.features & VMBUS_FEATURE_MODIFY_CONNECTION))
        return VMBUS_EOPNOTSUPP; /* the host ignores it: no answer would come */
    struct vmbus_modify_connection msg = {{CHANNELMSG_MODIFY_CONNECTION, 0}, parent_to_child, child_to_parent};
    vmbus_conn.modify_conn_done = 0;
    vmbus_conn.modify_conn_pending = 1;
    int r = vmbus_post(&msg, sizeof(msg));
    if (!r && !vmbus_wait(modify_answered, 0, VMBUS_WAIT_US))
        r = VMBUS_ETIMEDOUT;
    vmbus_conn.modify_conn_pending = 0;
    if (r)
        return r;
    uint32_t state = vmbus_conn.modify_conn_state;
    if (state != VMBUS_CONNECTION_STATE_SUCCESSFUL)
        return (int)state;
    if (!parent_to_child != !child_to_parent) {
        vmbus_protocol_error("MODIFY_CONNECTION_RESPONSE accepts a single monitor page", state);
        vmbus_conn.monitor_trigger = 0;
    } else {
        vmbus_conn.monitor_trigger = (struct vmbus_monitor_page *)(uintptr_t)child_to_parent; /* identity map */
    }
    return (int)state;
}
