// Image resizing for POST /images/resize, through libvips. A plain function that runs in a
// worker process, unaware of HTTP: the bytes it is given are hostile, so it decides what
// it will decode from the header alone, before any pixel is decoded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace steadyloop::jobs {

// gif is an input format only: a GIF is answered as PNG unless asked otherwise.
enum class image_format { jpeg, png, webp, gif };

// inside: fit within width×height, keeping the aspect ratio; cover: fill the box, keeping
// the aspect ratio, and crop the centre; fill: stretch to exactly width×height.
enum class fit_mode { inside, cover, fill };

// Exactly "jpeg", "png" or "webp" (the output formats the API accepts); nullopt otherwise.
std::optional<image_format> parse_image_format(std::string_view text) noexcept;

// Exactly "inside", "cover" or "fill"; nullopt otherwise.
std::optional<fit_mode> parse_fit(std::string_view text) noexcept;

// "image/jpeg", "image/png", "image/webp", "image/gif".
std::string_view content_type(image_format format) noexcept;

// "jpeg", "png", "webp", "gif".
std::string_view name(image_format format) noexcept;

struct resize_request {
    // At least one of them. The HTTP layer keeps them within 1–8192; a missing side is
    // unconstrained, and with one side only, cover and fill behave like inside.
    std::optional<int> width, height;
    fit_mode fit = fit_mode::inside;
    std::optional<image_format> format;  // nullopt: the input's format (PNG for a GIF)
    int quality = 80;                    // 1–100, for JPEG and WebP
    // Refused (too_large) when the input's declared size, or the output's, exceeds it.
    // The input's is read from the header, before any pixel is decoded.
    std::uint64_t max_pixels = 100'000'000;
};

struct resize_result {
    std::string bytes;
    image_format format;
    int width = 0;
    int height = 0;
};

class image_error : public std::runtime_error {
public:
    enum class kind {
        unsupported,  // not an image, or not JPEG, PNG, WebP or GIF
        corrupt,      // truncated or undecodable
        too_large,    // more pixels than max_pixels, or an absurd declared size
        bad_request,  // the request itself is invalid (no width nor height, quality…)
    };

    image_error(kind which, std::string const& what) : std::runtime_error(what), which_(which) {}

    kind which() const noexcept { return which_; }

private:
    kind which_;
};

// Initialises libvips once per process: one libvips thread, no operation cache (so memory
// is bounded by the image at hand), only the JPEG, PNG, WebP and GIF loaders enabled, and
// libvips' warnings kept off stderr. Throws std::runtime_error on failure.
// Call it only in a worker process: forking after it can deadlock the child. resize_image
// calls it too.
void init_images();

// Decodes `input` (JPEG, PNG, WebP or GIF — its first frame), resizes it as `req` asks,
// applying its EXIF orientation, and encodes it without metadata. Throws image_error.
resize_result resize_image(std::span<std::byte const> input, resize_request const& req);

}  // namespace steadyloop::jobs
