#ifndef FERVID_CFFMPEG_SHIM_H
#define FERVID_CFFMPEG_SHIM_H
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libavutil/avutil.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/error.h>
#include <libavutil/pixdesc.h>
#include <libavutil/display.h>

// Macros Swift does not import (PLATFORM.md), as static inline shims.
static inline int fervid_averror(int e) { return AVERROR(e); }
static inline int fervid_averror_eof(void) { return AVERROR_EOF; }
static inline int fervid_averror_exit(void) { return AVERROR_EXIT; }
static inline int fervid_averror_invaliddata(void) { return AVERROR_INVALIDDATA; }
static inline int fervid_averror_protocol_not_found(void) { return AVERROR_PROTOCOL_NOT_FOUND; }
static inline int fervid_averror_decoder_not_found(void) { return AVERROR_DECODER_NOT_FOUND; }
static inline int fervid_averror_stream_not_found(void) { return AVERROR_STREAM_NOT_FOUND; }
static inline int64_t fervid_nopts_value(void) { return AV_NOPTS_VALUE; }
static inline AVRational fervid_time_base_q(void) { return AV_TIME_BASE_Q; }

/// The stream's display matrix (3×3 int32: 16.16 fixed point, the last column 2.30), or NULL
/// when the stream has none. Stream side data moved to codecpar in FFmpeg 6.1.
static inline const int32_t *fervid_stream_display_matrix(const AVStream *st) {
#if LIBAVCODEC_VERSION_INT >= AV_VERSION_INT(60, 29, 100)
    const AVPacketSideData *sd = av_packet_side_data_get(st->codecpar->coded_side_data,
                                                         st->codecpar->nb_coded_side_data,
                                                         AV_PKT_DATA_DISPLAYMATRIX);
    return sd && sd->size >= 9 * sizeof(int32_t) ? (const int32_t *)sd->data : NULL;
#else
    size_t size = 0;
    const uint8_t *d = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
    return d && size >= 9 * sizeof(int32_t) ? (const int32_t *)d : NULL;
#endif
}
#endif
