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
#endif
