"""posts: the write path of posts, user timelines, and the post event stream."""
