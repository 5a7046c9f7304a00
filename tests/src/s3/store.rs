//! The lab's object store: `s3s-fs` (buckets as directories, objects as files), with its
//! listings brought in line with S3's.
//!
//! S3 takes an empty `delimiter=` for no delimiter; `s3s-fs` groups every key by its first
//! character instead. minio-go, which Tempo lists its blocks with, always sends the parameter,
//! so without this Tempo's block-list polls found no block in the lab.

use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result};

/// `s3s-fs` with S3's listing semantics.
pub struct Store(pub s3s_fs::FileSystem);

/// An empty delimiter is no delimiter.
fn none_if_empty(delimiter: &mut Option<String>) {
    if delimiter.as_deref() == Some("") {
        *delimiter = None;
    }
}

/// Implements [`S3`] for [`Store`]: the listed operations go to `s3s-fs` as they are, the
/// listings after [`none_if_empty`].
macro_rules! store {
    ($($op:ident: $input:ident => $output:ident),* $(,)?) => {
        #[async_trait::async_trait]
        impl S3 for Store {
            $(
                async fn $op(&self, req: S3Request<$input>) -> S3Result<S3Response<$output>> {
                    self.0.$op(req).await
                }
            )*

            async fn list_objects(
                &self,
                mut req: S3Request<ListObjectsInput>,
            ) -> S3Result<S3Response<ListObjectsOutput>> {
                none_if_empty(&mut req.input.delimiter);
                self.0.list_objects(req).await
            }

            async fn list_objects_v2(
                &self,
                mut req: S3Request<ListObjectsV2Input>,
            ) -> S3Result<S3Response<ListObjectsV2Output>> {
                none_if_empty(&mut req.input.delimiter);
                self.0.list_objects_v2(req).await
            }
        }
    };
}

store! {
    create_bucket: CreateBucketInput => CreateBucketOutput,
    copy_object: CopyObjectInput => CopyObjectOutput,
    delete_bucket: DeleteBucketInput => DeleteBucketOutput,
    delete_object: DeleteObjectInput => DeleteObjectOutput,
    delete_objects: DeleteObjectsInput => DeleteObjectsOutput,
    get_bucket_location: GetBucketLocationInput => GetBucketLocationOutput,
    get_object: GetObjectInput => GetObjectOutput,
    head_bucket: HeadBucketInput => HeadBucketOutput,
    head_object: HeadObjectInput => HeadObjectOutput,
    list_buckets: ListBucketsInput => ListBucketsOutput,
    put_object: PutObjectInput => PutObjectOutput,
    create_multipart_upload: CreateMultipartUploadInput => CreateMultipartUploadOutput,
    upload_part: UploadPartInput => UploadPartOutput,
    upload_part_copy: UploadPartCopyInput => UploadPartCopyOutput,
    list_parts: ListPartsInput => ListPartsOutput,
    complete_multipart_upload: CompleteMultipartUploadInput => CompleteMultipartUploadOutput,
    abort_multipart_upload: AbortMultipartUploadInput => AbortMultipartUploadOutput,
}
