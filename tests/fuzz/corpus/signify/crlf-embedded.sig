untrusted comment: verify with a.pub
RWQ/ZLmLVlyzr3Ek7m4KkGOtlZgE9BV5JTGLOn15OhCuuG1+auMylZwXZjDM4z+xaXjFFAt9808z+cbbfJRXUeZ9WBOHHmSSwAU=
SHA256 (test.img) = ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb
