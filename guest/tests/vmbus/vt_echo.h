/* vt_echo.h - echo checks through the hvsim `test` device (models/devices/test), shared by the
 * VMBus test guests that exercise one protocol path and need to know that data still flows.
 *
 * vt_echo_rx() is the channel callback: it queues every received packet (at most VT_ECHO_SLOTS
 * waiting, payloads up to VT_ECHO_MAX_PAYLOAD bytes) and counts its calls per VP (runtime VP
 * number) in vt_echo_callbacks and failed receives in vt_echo_rx_errors.
 * vt_echo_one_by_one() sends `count` in-band packets of 1..6000 bytes (a fixed cycle of sizes),
 * each after the echo of the one before, and checks every echo (type, trans_id, padded length,
 * payload); it returns how many failed, each also printed as a "#" line.
 * vt_echo_burst() sends VT_ECHO_BURST_COUNT packets of VT_ECHO_BURST_SIZE bytes back to back,
 * prepared beforehand so that they are written faster than the host drains them (the outbound
 * ring fills and vmbus_send_wait sets pending_send_sz), then checks every echo in order; 1 if all
 * went out and came back intact.
 * Packets carry consecutive trans_ids (from 1) and a payload derived from the trans_id.
 */
#ifndef VT_ECHO_H
#define VT_ECHO_H

#include "vmbus_testlib.h"

#define VT_ECHO_SLOTS 32u
#define VT_ECHO_MAX_PAYLOAD 6000u
#define VT_ECHO_BURST_COUNT 12u
#define VT_ECHO_BURST_SIZE 1000u
#define VT_ECHO_WAIT_US 200000u

extern volatile uint32_t vt_echo_rx_errors;
extern volatile uint32_t vt_echo_callbacks[HVSIM_MAX_TEST_VPS];

void vt_echo_rx(struct vmbus_channel *ch);
uint32_t vt_echo_one_by_one(struct vmbus_channel *ch, uint32_t count);
int vt_echo_burst(struct vmbus_channel *ch);

#endif
