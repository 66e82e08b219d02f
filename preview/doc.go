// Package preview turns a customer's document (an ID scan, a company
// registration extract) into images an agent's browser can safely
// display: PNG files made here from decoded pixels. The original bytes
// never reach the browser for display; an agent who needs them downloads
// them through an audited action elsewhere (SPEC.md §8).
//
// # Threat model
//
// The document is hostile: whoever sent the mail chose every byte. What
// it may try, and what stands against it:
//
//   - Active content in the browser: an SVG or HTML page with script, a
//     file that a browser would sniff as HTML, a polyglot. Render sniffs
//     the bytes (never a declared type or a file name) and previews only
//     JPEG, PNG, GIF, WebP, TIFF and PDF; everything else is ErrUnsupported. What
//     comes out is always a PNG this package encoded, so whatever the
//     input contained beyond its pixels is not in it. The web layer still
//     serves previews with nosniff and a sandboxing CSP.
//   - Metadata leaks: EXIF (GPS position, device serials), XMP, ICC
//     profiles, comments, PNG text chunks, a GIF's later frames. Only
//     decoded pixels are encoded, so none of it survives; nothing is
//     stripped, it is never copied. (An EXIF orientation is lost with
//     the rest: a photo shows as its pixels are stored.)
//   - Decompression bombs: a small PNG declaring 100000 × 100000 pixels.
//     The header is read first (image.DecodeConfig) and refused above
//     Options.MaxPixels, or when the decoding is estimated to need more
//     than 8 bytes per allowed pixel, before anything is allocated for
//     the pixels (ErrTooLarge). A GIF is decoded up to its first frame.
//   - Bugs in the decoders: images are decoded by Go's image packages,
//     memory safe and fuzzed here (FuzzRender); a decoder error is
//     ErrRender, and its text, which can quote bytes of the image, is
//     not passed on.
//   - A PDF that exploits, hangs or exhausts the renderer: PDFs are
//     rendered by Debian's pdftoppm (poppler) in a separate process,
//     which is not memory safe, so it is contained: the document goes in
//     on standard input and the pages come out as PNG on standard
//     output, never through files; it runs in a fresh 0700 directory
//     with an empty environment, as the leader of its own process group,
//     killed whole at Options.Timeout (ErrTimeout) or when it has written
//     Options.MaxOutput bytes (ErrTooLarge); pages are rendered at
//     Options.DPI within a crop square (17 inches, narrowed to
//     MaxPixels), so a giant page costs no more than an A3 one, and only
//     the first Options.MaxPages; under prlimit(1), when PATH has it, its
//     address space (512 MiB), CPU time, file sizes, open files and core
//     dumps are limited too. Its output is then treated like any hostile
//     image: each page's header is checked and the page decoded and
//     encoded anew. Its diagnostics are discarded: they may quote the
//     document. It runs as the daemon's user; a sandbox with fewer rights
//     (a separate user, seccomp, namespaces) is beyond this package.
//   - Exhausting the server through many previews: a Renderer runs at
//     most two renders at a time.
//
// Errors are one line, wrap one of the sentinels (ErrUnsupported,
// ErrTooLarge, ErrTimeout, ErrRender) or the caller's context error, and
// never quote the document.
package preview
