-- The admin API lists licenses in id order, a page at a time, filtered by organization,
-- product or end date: these indexes keep a filtered page a short index walk at a million
-- licenses.
CREATE INDEX licenses_org_id ON licenses (org, id);
CREATE INDEX licenses_product_id ON licenses (product, id);
CREATE INDEX licenses_expires_at ON licenses (expires_at);
