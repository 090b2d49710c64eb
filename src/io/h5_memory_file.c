/* HDF5 files built in memory and written with plain POSIX calls (see
   fer_h5_memory_create in fer/h5util.h). */
#include "atomic_file.h"
#include "fer/h5util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Growth step of the in-memory image. */
enum { CORE_INCREMENT = 1 << 20 };

#define ROT(x, k) (((x) << (k)) | ((x) >> (32 - (k))))

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Bob Jenkins' lookup3 hashlittle (public domain), byte by byte, with initial
   value 0: the checksum of HDF5's version 2+ metadata. */
static uint32_t lookup3(const uint8_t *k, size_t length)
{
    uint32_t a, b, c;
    a = b = c = 0xdeadbeefu + (uint32_t)length;
    for (; length > 12; length -= 12, k += 12) {
        a += le32(k);
        b += le32(k + 4);
        c += le32(k + 8);
        a -= c, a ^= ROT(c, 4), c += b;
        b -= a, b ^= ROT(a, 6), a += c;
        c -= b, c ^= ROT(b, 8), b += a;
        a -= c, a ^= ROT(c, 16), c += b;
        b -= a, b ^= ROT(a, 19), a += c;
        c -= b, c ^= ROT(b, 4), b += a;
    }
    if (length == 0)
        return c;
    uint8_t tail[12] = {0};
    memcpy(tail, k, length);
    c += le32(tail + 8);
    b += le32(tail + 4);
    a += le32(tail);
    c ^= b, c -= ROT(b, 14);
    a ^= c, a -= ROT(c, 11);
    b ^= a, b -= ROT(a, 25);
    c ^= b, c -= ROT(b, 16);
    a ^= c, a -= ROT(c, 4);
    b ^= a, b -= ROT(a, 14);
    c ^= b, c -= ROT(b, 24);
    return c;
}

/* HDF5 1.10.8 patches the end-of-file address into the superblock of a file
   image without updating the superblock's checksum, and then cannot open the
   file it wrote ("incorrect metadata checksum"). The checksum is recomputed
   here: version 2 and 3 superblocks are signature, 4 one-byte fields, 4
   addresses and the checksum of everything before it. */
static void fix_superblock_checksum(uint8_t *image, size_t size)
{
    if (size < 12 || memcmp(image, "\211HDF\r\n\032\n", 8) != 0 || image[8] < 2)
        return;
    size_t at = 12 + 4 * (size_t)image[9];
    if (at + 4 > size)
        return;
    uint32_t sum = lookup3(image, at);
    for (int i = 0; i < 4; i++)
        image[at + i] = (uint8_t)(sum >> (8 * i));
}

hid_t fer_h5_memory_create(const char *name, fer_err *err)
{
    hid_t fapl = fer_h5_fapl();
    hid_t f = H5I_INVALID_HID;
    if (fapl >= 0 && H5Pset_fapl_core(fapl, CORE_INCREMENT, 0) >= 0)
        f = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (f < 0)
        fer_fail(err, "%s: cannot create an HDF5 file in memory", name);
    return f;
}

int fer_h5_memory_save(hid_t f, const char *path, fer_err *err)
{
    ssize_t size = H5Fflush(f, H5F_SCOPE_GLOBAL) < 0 ? -1 : H5Fget_file_image(f, NULL, 0);
    void *image = size > 0 ? malloc((size_t)size) : NULL;
    int ok = image && H5Fget_file_image(f, image, (size_t)size) == size;
    ok = H5Fclose(f) >= 0 && ok;
    if (ok)
        fix_superblock_checksum(image, (size_t)size);
    int rc = ok ? fer_atomic_write_bytes(path, image, (size_t)size, err)
                : fer_fail(err, "%s: cannot take the HDF5 image from memory (%zd bytes; out of memory?)",
                           path, size);
    free(image);
    return rc;
}
