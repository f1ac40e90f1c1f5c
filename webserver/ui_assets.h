/*
 * ui_assets.h - the web UI's files, built from ui/ by ui/build.sh and
 * linked into the webserver: index.html and the content-hashed bundles
 * under assets/, each as is and gzip'ed.
 */
#ifndef UPDRAFT_WEBSERVER_UI_ASSETS_H
#define UPDRAFT_WEBSERVER_UI_ASSETS_H

#include <stddef.h>

typedef struct ui_asset {
    const char *path; /* "index.html" or "assets/main-<hash>.js" */
    const char *content_type;
    const unsigned char *raw;
    size_t raw_len;
    const unsigned char *gz; /* the same, gzip'ed */
    size_t gz_len;
} ui_asset_t;

extern const ui_asset_t ui_assets[];
extern const size_t ui_assets_count;

#endif
