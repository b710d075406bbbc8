"""Faces: decode, find (MediaPipe FaceMesh), align (LibreFace quad) and store aligned faces.

``io`` decodes images and videos to uint8 RGB; ``mesh`` finds 478 landmarks per face; ``quad``
builds the LibreFace quad, ``align`` (and ``align_reference``) warps it to 256×256; ``pose`` gives
head pose in degrees; ``manifest`` defines the manifest row; ``store`` and ``preprocess`` turn
images, folders, videos and dataset indexes into an aligned-face store with a manifest row for
every input frame. MediaPipe is imported only when a face is first searched;
``store`` and ``preprocess`` (pandas) are imported by name: ``from libreface_nb.faces.preprocess
import preprocess_sources``.
"""

from libreface_nb.faces.align import align_face, face_quad
from libreface_nb.faces.io import VideoFrame, iter_video, read_image, to_rgb_uint8
from libreface_nb.faces.mesh import Face, FaceMesh, detect_faces
from libreface_nb.faces.pose import head_pose

__all__ = [
    "Face",
    "FaceMesh",
    "VideoFrame",
    "align_face",
    "detect_faces",
    "face_quad",
    "head_pose",
    "iter_video",
    "read_image",
    "to_rgb_uint8",
]
