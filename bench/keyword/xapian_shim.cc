// bench/keyword: a thin C shim over Xapian (BM25, English stemming off: the bench feeds the
// same folded and stemmed terms Forge indexes, so both rank the same tokens). Built only for
// the bench; Forge itself never links Xapian.
#include <xapian.h>


extern "C" {
#include "xapian_shim.h"
}

struct xs {
    Xapian::WritableDatabase *w = nullptr;
    Xapian::Database *r = nullptr;
    Xapian::Enquire *e = nullptr;
};

extern "C" struct xs *xs_open(const char *dir)
{
    try {
        xs *x = new xs;
        x->w = new Xapian::WritableDatabase(dir, Xapian::DB_CREATE_OR_OVERWRITE);
        return x;
    } catch (const Xapian::Error &) {
        return nullptr;
    }
}

extern "C" int xs_add(struct xs *x, const char *id, const char *const *terms, size_t n)
{
    try {
        Xapian::Document d;
        for (size_t i = 0; i < n; i++)
            d.add_posting(terms[i], (Xapian::termpos)(i + 1));
        (void)id;
        x->w->add_document(d);
        return 0;
    } catch (const Xapian::Error &) {
        return -1;
    }
}

extern "C" int xs_commit(struct xs *x, const char *dir)
{
    try {
        x->w->commit();
        delete x->w;
        x->w = nullptr;
        x->r = new Xapian::Database(dir);
        x->e = new Xapian::Enquire(*x->r);
        x->e->set_weighting_scheme(Xapian::BM25Weight(1.2, 0, 1, 0.75, 0.5));
        return 0;
    } catch (const Xapian::Error &) {
        return -1;
    }
}

extern "C" size_t xs_search(struct xs *x, const char *const *terms, size_t n, size_t k,
                            unsigned *docids)
{
    try {
        Xapian::Query q(Xapian::Query::OP_OR, terms, terms + n);
        x->e->set_query(q);
        Xapian::MSet m = x->e->get_mset(0, (Xapian::doccount)k);
        size_t i = 0;
        for (Xapian::MSetIterator it = m.begin(); it != m.end() && i < k; ++it, ++i)
            docids[i] = *it; /* 1-based, in insertion order */
        return i;
    } catch (const Xapian::Error &) {
        return 0;
    }
}

extern "C" void xs_close(struct xs *x)
{
    if (!x)
        return;
    delete x->e;
    delete x->r;
    delete x->w;
    delete x;
}
