/* SPDX-License-Identifier: MIT */
/*
 * itree.c - an augmented interval tree: a treap keyed by start, each node
 * carrying the largest `last` of its subtree, so a stabbing query visits
 * O(log n + k) nodes for k hits.  Used by the interval notifiers.
 * The caller owns the nodes and the locking.
 */
#include "core/internal.h"

static uintptr_t node_max(const struct hms_itree_node *n)
{
	return n ? n->max_last : 0;
}

static void update(struct hms_itree_node *n)
{
	uintptr_t m = n->last;

	if (n->left && n->left->max_last > m)
		m = n->left->max_last;
	if (n->right && n->right->max_last > m)
		m = n->right->max_last;
	n->max_last = m;
}

static uint32_t next_prio(struct hms_itree *t)
{
	/* xorshift32: priorities only need to look random. */
	uint32_t x = t->seed ? t->seed : 0x9e3779b9u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	t->seed = x;
	return x;
}

/* Split by key: nodes ordered before n (start, then address) go left. */
static bool before(const struct hms_itree_node *a, const struct hms_itree_node *b)
{
	return a->start < b->start || (a->start == b->start && a < b);
}

static struct hms_itree_node *rotate_right(struct hms_itree_node *n)
{
	struct hms_itree_node *l = n->left;

	n->left = l->right;
	l->right = n;
	update(n);
	update(l);
	return l;
}

static struct hms_itree_node *rotate_left(struct hms_itree_node *n)
{
	struct hms_itree_node *r = n->right;

	n->right = r->left;
	r->left = n;
	update(n);
	update(r);
	return r;
}

static struct hms_itree_node *insert_rec(struct hms_itree_node *root,
					 struct hms_itree_node *n)
{
	if (!root)
		return n;
	if (before(n, root)) {
		root->left = insert_rec(root->left, n);
		update(root);
		if (root->left->prio > root->prio)
			root = rotate_right(root);
	} else {
		root->right = insert_rec(root->right, n);
		update(root);
		if (root->right->prio > root->prio)
			root = rotate_left(root);
	}
	return root;
}

void hms__itree_insert(struct hms_itree *t, struct hms_itree_node *n)
{
	n->left = n->right = NULL;
	n->prio = next_prio(t);
	n->max_last = n->last;
	t->root = insert_rec(t->root, n);
}

static struct hms_itree_node *merge(struct hms_itree_node *a, struct hms_itree_node *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	if (a->prio > b->prio) {
		a->right = merge(a->right, b);
		update(a);
		return a;
	}
	b->left = merge(a, b->left);
	update(b);
	return b;
}

static struct hms_itree_node *remove_rec(struct hms_itree_node *root,
					 struct hms_itree_node *n)
{
	if (!root)
		return NULL;
	if (root == n)
		return merge(n->left, n->right);
	if (before(n, root))
		root->left = remove_rec(root->left, n);
	else
		root->right = remove_rec(root->right, n);
	update(root);
	return root;
}

void hms__itree_remove(struct hms_itree *t, struct hms_itree_node *n)
{
	t->root = remove_rec(t->root, n);
	n->left = n->right = NULL;
}

static bool visit(struct hms_itree_node *n, uintptr_t start, uintptr_t last,
		  bool (*fn)(struct hms_itree_node *, void *), void *arg)
{
	if (!n || node_max(n) < start)
		return true;
	if (!visit(n->left, start, last, fn, arg))
		return false;
	if (n->start > last)
		return true; /* everything to the right starts later */
	if (n->last >= start && !fn(n, arg))
		return false;
	return visit(n->right, start, last, fn, arg);
}

void hms__itree_for_each(struct hms_itree *t, uintptr_t start, uintptr_t last,
			 bool (*fn)(struct hms_itree_node *n, void *arg), void *arg)
{
	visit(t->root, start, last, fn, arg);
}
