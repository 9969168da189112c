// Test images made on the spot: encoded with libvips, or written byte by byte for the
// malformed ones, so no binary fixture has to be kept or trusted. Read back with libvips
// too. Self-contained (libvips and the standard library only) so that the integration
// tests can reuse it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace steadyloop::test::images {

// Starts libvips in this process, once; every function below calls it. A test process
// may posix_spawn the server afterwards, but must not fork() and go on running code in the
// child (libvips and fork do not mix: see init_images()).
void ensure_vips();

enum class encoding { jpeg, png, webp, gif, tiff };

// 8-bit interleaved pixels, row by row.
struct pixels {
    int width = 0;
    int height = 0;
    int bands = 3;
    std::vector<unsigned char> data;
};

// Photo-like: red grows from left to right, green from top to bottom, blue along the
// diagonal, plus uniform noise of ±noise (the same for the same seed), so that encoders
// and the resampler have real work to do.
pixels photo_pixels(int width, int height, unsigned seed = 1, int noise = 12);

// Every pixel the same; bands = value.size() (4 for RGBA).
pixels solid_pixels(int width, int height, std::vector<unsigned char> const& value);

struct encode_options {
    int quality = 90;                // JPEG and WebP
    std::optional<int> orientation;  // EXIF orientation tag (JPEG), 1–8
    std::string xmp;                 // an XMP packet to embed, when not empty
    std::string icc_profile;         // embed this libvips built-in ICC profile: "srgb", "p3"…
};

// Throws std::runtime_error when libvips cannot encode.
std::string encode(pixels const& image, encoding format, encode_options const& options = {});

// photo_pixels(width, height), encoded.
std::string photo(int width, int height, encoding format);

// An animated GIF of width×height frames, each filled with one colour (r, g, b).
struct rgb {
    unsigned char r, g, b;
};
std::string animated_gif(int width, int height, std::vector<rgb> const& frames);

// Hand-written bytes.
// A PNG of a signature, an IHDR claiming width×height (8-bit RGB) with a correct CRC, one
// IDAT holding an empty zlib stream, and IEND: a valid header over no pixel data at all.
std::string png_claiming(std::uint32_t width, std::uint32_t height);
std::string bmp_2x2();  // a valid 24-bit Windows bitmap
std::string svg_document();
std::string pdf_document();
std::string random_bytes(std::size_t size, unsigned seed);

// An image read back by libvips with every pixel decoded (loader fail_on=error).
struct decoded {
    std::string loader;  // libvips' nickname: "jpegload_buffer", "pngload_buffer", …
    int width = 0;
    int height = 0;  // of the first page
    int bands = 0;
    int pages = 1;
    std::optional<int> orientation;  // the EXIF orientation tag, when there is one
    bool has_exif = false;
    bool has_xmp = false;
    bool has_icc = false;
};

// nullopt when libvips cannot find a loader or cannot decode every pixel.
std::optional<decoded> decode(std::string_view bytes);

// The mean of each band over a rectangle of the decoded image (its first page). Throws
// std::runtime_error when libvips cannot decode it.
std::vector<double> mean_pixel(std::string_view bytes, int left, int top, int width, int height);

// libvips objects alive in this process now: equal before and after a job when the job
// released every reference it took.
int live_vips_objects();

}  // namespace steadyloop::test::images
