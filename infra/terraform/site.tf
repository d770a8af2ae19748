# The status site (docs/deploy.md, "Status pages"): the alert function writes the pages under
# site/ (what changed, after evaluations that told someone something and each hour); CloudFront
# serves site/ only, through origin access control; state/site.json (what the site holds) is
# never served: it would list the unlisted customers' pages.

locals {
  # status_site = "bucket": the pages are written, no CloudFront serves them.
  cdn = var.status_site == "cloudfront"
}

resource "aws_s3_bucket" "site" {
  #checkov:skip=CKV_AWS_18:Access logging would need a second bucket; CloudFront serves every read, and the alert function is the only writer.
  #checkov:skip=CKV_AWS_21:The site is rebuilt from the tables whenever it changes: old versions of pages are worth nothing and would only cost.
  #checkov:skip=CKV_AWS_144:Cross-region replication is not needed: the site is rebuilt from the tables at the next change or hour.
  #checkov:skip=CKV_AWS_145:SSE-S3 encrypts the pages at rest; they are public, and CloudFront's origin access control would need a key grant for a KMS key.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to writes: CloudFront reads the pages when asked.
  #checkov:skip=CKV2_AWS_61:Objects are replaced in place and deleted when the site no longer has them; there is nothing to expire.
  bucket = "${var.prefix}site-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}"
}

resource "aws_s3_bucket_server_side_encryption_configuration" "site" {
  bucket = aws_s3_bucket.site.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "site" {
  bucket                  = aws_s3_bucket.site.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "site" {
  bucket = aws_s3_bucket.site.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_policy" "site" {
  bucket = aws_s3_bucket.site.id
  policy = data.aws_iam_policy_document.site.json
}

data "aws_iam_policy_document" "site" {
  statement {
    sid       = "TlsOnly"
    effect    = "Deny"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject"]
    resources = [aws_s3_bucket.site.arn, "${aws_s3_bucket.site.arn}/*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
  dynamic "statement" {
    for_each = aws_cloudfront_distribution.site
    content {
      sid       = "CloudFrontReadsThePages"
      effect    = "Allow"
      actions   = ["s3:GetObject"]
      resources = ["${aws_s3_bucket.site.arn}/site/*"]
      principals {
        type        = "Service"
        identifiers = ["cloudfront.amazonaws.com"]
      }
      condition {
        test     = "StringEquals"
        variable = "AWS:SourceArn"
        values   = [statement.value.arn]
      }
    }
  }
}

resource "aws_cloudfront_origin_access_control" "site" {
  count                             = local.cdn ? 1 : 0
  name                              = "${var.prefix}site"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

# /acme-7f3k/ is /acme-7f3k/index.html; /acme-7f3k goes to /acme-7f3k/ (the pages' links are
# relative).
resource "aws_cloudfront_function" "site_index" {
  count   = local.cdn ? 1 : 0
  name    = "${var.prefix}site-index"
  runtime = "cloudfront-js-2.0"
  comment = "Folder addresses to their index.html"
  publish = true
  code    = <<-JS
    function handler(event) {
      var request = event.request;
      var uri = request.uri;
      if (uri.endsWith('/')) {
        request.uri = uri + 'index.html';
      } else if (uri.split('/').pop().indexOf('.') === -1) {
        return { statusCode: 301, statusDescription: 'Moved Permanently', headers: { location: { value: uri + '/' } } };
      }
      return request;
    }
  JS
}

resource "aws_cloudfront_distribution" "site" {
  #checkov:skip=CKV_AWS_68:A static site of public status pages, no forms, no origin that computes: WAF would cost more than the site and guard nothing.
  #checkov:skip=CKV2_AWS_47:No WAF (see CKV_AWS_68): the origin is an S3 bucket of static files, nothing for Log4j to reach.
  #checkov:skip=CKV_AWS_86:Access logs would need a logging bucket with ACLs; the pages are public and CloudFront's standard metrics cover traffic.
  #checkov:skip=CKV_AWS_310:One origin: a second would be a copy of the same bucket in another region (docs/deploy.md explains hosting the page apart from what it monitors).
  #checkov:skip=CKV_AWS_374:Customers anywhere must be able to read their status page.
  #checkov:skip=CKV_AWS_174:TLSv1.2_2021 is set whenever the site has its own domain; CloudFront's default certificate cannot be given a minimum protocol.
  #checkov:skip=CKV2_AWS_42:The custom certificate is optional (status_domain and status_certificate_arn); without them the CloudFront address is used.
  #checkov:skip=CKV2_AWS_32:The managed SecurityHeadersPolicy is attached by its ID (67f7725c-...); checkov recognises only a policy defined in this configuration.
  count               = local.cdn ? 1 : 0
  enabled             = true
  comment             = "${var.prefix}status site"
  default_root_object = "index.html"
  http_version        = "http2and3"
  price_class         = "PriceClass_100"
  aliases             = var.status_domain == "" ? [] : [var.status_domain]

  origin {
    origin_id                = "site"
    domain_name              = aws_s3_bucket.site.bucket_regional_domain_name
    origin_path              = "/site"
    origin_access_control_id = aws_cloudfront_origin_access_control.site[0].id
  }

  default_cache_behavior {
    target_origin_id       = "site"
    viewer_protocol_policy = "redirect-to-https"
    allowed_methods        = ["GET", "HEAD"]
    cached_methods         = ["GET", "HEAD"]
    compress               = true
    # Managed CachingOptimized: the objects' own Cache-Control (a minute for pages, a year for
    # assets named by their content) decides.
    cache_policy_id = "658327ea-f89d-4fab-a63d-7e88639e58f6"
    # Managed SecurityHeadersPolicy (HSTS, nosniff, frame options, referrer policy).
    response_headers_policy_id = "67f7725c-6f97-4210-82d7-5512b31e9d03"
    function_association {
      event_type   = "viewer-request"
      function_arn = aws_cloudfront_function.site_index[0].arn
    }
  }

  # A page that is not there is a 403 from S3 (CloudFront may not list the bucket).
  custom_error_response {
    error_code            = 403
    response_code         = 404
    response_page_path    = "/index.html"
    error_caching_min_ttl = 60
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = var.status_domain == ""
    acm_certificate_arn            = var.status_domain == "" ? null : var.status_certificate_arn
    ssl_support_method             = var.status_domain == "" ? null : "sni-only"
    minimum_protocol_version       = var.status_domain == "" ? "TLSv1" : "TLSv1.2_2021"
  }
}
