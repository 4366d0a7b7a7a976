/* hello.elf - VP 0 greets, prints what the boot info says and exits 0 (1 if the block is bad).
 * Other vCPUs halt. */
#include "hvsim_guest.h"

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    if (vp != 0)
        return 0;
    if (bi->magic != HVSIM_BOOT_MAGIC || bi->version < 1) {
        printf("bad boot info: magic 0x%x version %u\n", bi->magic, bi->version);
        return 1;
    }
    printf("Hello from hvsim guest, vp %u of %u\n", vp, bi->vcpu_count);
    printf("RAM %lu MiB (0x%lx bytes), free 0x%lx-0x%lx, image 0x%lx-0x%lx, TSC %lu Hz\n",
           bi->ram_size >> 20, bi->ram_size, bi->free_mem_start, bi->free_mem_end, bi->image_start,
           bi->image_end, bi->tsc_hz);
    return 0;
}
