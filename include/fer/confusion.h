/* Classification report from a confusion matrix: per-class precision,
   recall and F1, macro averages, as text, CSV and JSON. */
#ifndef FER_CONFUSION_H
#define FER_CONFUSION_H

#include "fer/error.h"

#include <stdio.h>

typedef struct {
    int classes;
    const char *const *names;
    const long *confusion; /* [true * classes + predicted] */
} fer_confusion;

typedef struct {
    double precision, recall, f1;
    long support;
} fer_class_score;

/* Scores of class k (0 where undefined, as scikit-learn's zero_division=0). */
fer_class_score fer_confusion_score(const fer_confusion *c, int k);
double fer_confusion_accuracy(const fer_confusion *c);
long fer_confusion_total(const fer_confusion *c);

/* Human-readable report: accuracy, counts, row-normalized matrix, per-class
   scores and macro averages. */
void fer_confusion_print(FILE *f, const fer_confusion *c, const char *title);
/* prefix.csv (matrix with a header row) and prefix.json (everything). */
int fer_confusion_write(const fer_confusion *c, const char *prefix, double loss, fer_err *err);

#endif
