/* Vetting a deflate-compressed chunked dataset before HDF5 reads it: HDF5
   1.10.8 copies a whole chunk's bytes out of whatever a damaged chunk
   inflates to, reading past the heap buffer when that is shorter (found by
   tests/fuzz). Each stored chunk is read raw and inflated here first; every
   one must give exactly the chunk's size. */
#include "fer/h5util.h"

#include <stdlib.h>
#include <zlib.h>

/* The chunk pipeline of plist: *deflate and *fletcher32 are the filter
   indices (-1 when absent); FER_ERROR for any other compressing filter. */
static int pipeline(hid_t plist, int *deflate, int *fletcher32)
{
    *deflate = *fletcher32 = -1;
    int nf = H5Pget_nfilters(plist);
    for (int i = 0; i < nf; i++) {
        unsigned flags = 0;
        size_t nvalues = 0;
        H5Z_filter_t f = H5Pget_filter2(plist, (unsigned)i, &flags, &nvalues, NULL, 0, NULL, NULL);
        if (f == H5Z_FILTER_DEFLATE)
            *deflate = i;
        else if (f == H5Z_FILTER_FLETCHER32)
            *fletcher32 = i;
        else if (f != H5Z_FILTER_SHUFFLE)
            return FER_ERROR;
    }
    return nf < 0 ? FER_ERROR : FER_OK;
}

/* Whether stored chunk i inflates to exactly want bytes. */
static int chunk_inflates(hid_t ds, hsize_t i, int deflate, int fletcher32, size_t want, unsigned char *out)
{
    hsize_t offset[FER_H5_MAX_DIMS], size = 0;
    unsigned mask = 0;
    haddr_t addr;
    hid_t space = H5Dget_space(ds);
    herr_t got_info = space < 0 ? -1 : H5Dget_chunk_info(ds, space, i, offset, &mask, &addr, &size);
    if (space >= 0)
        H5Sclose(space);
    if (got_info < 0 || size == 0 || size > 1u << 30)
        return 0;
    unsigned char *raw = malloc((size_t)size);
    uint32_t filters = 0;
    int ok = raw && H5Dread_chunk(ds, H5P_DEFAULT, offset, &filters, raw) >= 0;
    size_t len = (size_t)size;
    if (ok && fletcher32 >= 0 && !(filters & (1u << fletcher32)))
        ok = len >= 4 && (len -= 4) > 0;
    if (ok && deflate >= 0 && !(filters & (1u << deflate))) {
        uLongf got = (uLongf)want + 1; /* room for one byte too many */
        ok = uncompress(out, &got, raw, (uLong)len) == Z_OK && got == want;
    } else if (ok) {
        ok = len >= want;
    }
    free(raw);
    return ok;
}

int fer_h5_check_chunks(hid_t ds, hid_t plist, size_t elem_size, fer_err *err)
{
    hsize_t cdims[FER_H5_MAX_DIMS], nchunks = 0;
    int deflate, fletcher32, rank = H5Pget_chunk(plist, FER_H5_MAX_DIMS, cdims);
    if (pipeline(plist, &deflate, &fletcher32) != FER_OK)
        return fer_fail(err, "a compression filter fer does not read");
    hid_t space = H5Dget_space(ds);
    herr_t counted = space < 0 ? -1 : H5Dget_num_chunks(ds, space, &nchunks);
    if (space >= 0)
        H5Sclose(space);
    if (rank <= 0 || rank > FER_H5_MAX_DIMS || counted < 0)
        return fer_fail(err, "unreadable chunk layout (rank %d)", rank);
    size_t want = elem_size;
    for (int d = 0; d < rank; d++)
        want = cdims[d] && want <= ((size_t)1 << 31) / cdims[d] ? want * (size_t)cdims[d] : 0;
    if (want == 0)
        return fer_fail(err, "chunks of more than 2 GiB or of none");
    unsigned char *out = malloc(want + 1);
    if (!out)
        return fer_fail(err, "out of memory for a %zu-byte chunk", want);
    hsize_t bad = nchunks;
    for (hsize_t i = 0; bad == nchunks && i < nchunks; i++)
        if (!chunk_inflates(ds, i, deflate, fletcher32, want, out))
            bad = i;
    free(out);
    if (bad < nchunks)
        return fer_fail(err, "chunk %llu of %llu does not hold its %zu bytes (damaged file)",
                        (unsigned long long)bad + 1, (unsigned long long)nchunks, want);
    return FER_OK;
}
