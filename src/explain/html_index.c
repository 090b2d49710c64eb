/* The saliency report's index page: one table row per class, each cell a
   sample's face, its Grad-CAM overlay and its gradient saliency map. */
#include "fer/explain.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void html_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

static void head(FILE *f, const char *title, const char *layer_name)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", f);
    html_text(f, title);
    fputs("</title>\n<style>\n"
          "body { font-family: sans-serif; margin: 1.5em; }\n"
          "table { border-collapse: collapse; }\n"
          "td, th { border: 1px solid #ccc; padding: 6px; vertical-align: top; text-align: center; }\n"
          "th.class { text-align: right; }\n"
          "img { image-rendering: pixelated; display: inline-block; margin: 1px; }\n"
          "figcaption { font-size: 0.8em; color: #555; }\n"
          "figure { margin: 0; }\n"
          "</style>\n</head>\n<body>\n<h1>",
          f);
    html_text(f, title);
    fputs("</h1>\n<p>For each class, the correctly classified samples the model is most sure of. "
          "In each cell: the face as the model sees it, the Grad-CAM map of the class from layer <code>",
          f);
    html_text(f, layer_name);
    fputs("</code> over the face (red: strongest evidence), and the vanilla gradient saliency map "
          "(how strongly each pixel moves the class score).</p>\n",
          f);
}

static void cell(FILE *f, const fer_html_sample *s)
{
    const char *files[3] = {s->face, s->gradcam, s->saliency}, *alts[3] = {"face", "Grad-CAM", "saliency"};
    fputs("<td><figure>", f);
    for (int i = 0; i < 3; i++) {
        fputs("<img src=\"", f);
        html_text(f, files[i]);
        fprintf(f, "\" alt=\"%s\" title=\"%s\">", alts[i], alts[i]);
    }
    fprintf(f, "<figcaption>sample %d, p = %.3f</figcaption></figure></td>\n", s->index, (double)s->prob);
}

int fer_html_index_write(const char *path, const char *title, const char *const *names, int classes,
                         int per_class, const fer_html_sample *cells, const char *layer_name, fer_err *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return fer_fail(err, "%s: %s", path, strerror(errno));
    head(f, title, layer_name);
    fputs("<table>\n<tr><th>class</th>", f);
    for (int k = 0; k < per_class; k++)
        fprintf(f, "<th>#%d</th>", k + 1);
    fputs("</tr>\n", f);
    for (int c = 0; c < classes; c++) {
        fputs("<tr><th class=\"class\">", f);
        html_text(f, names[c]);
        fputs("</th>\n", f);
        for (int k = 0; k < per_class; k++) {
            const fer_html_sample *s = &cells[c * per_class + k];
            if (s->face)
                cell(f, s);
            else
                fputs("<td>(no correctly classified sample)</td>\n", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n</body>\n</html>\n", f);
    return fclose(f) ? fer_fail(err, "%s: %s", path, strerror(errno)) : FER_OK;
}
