import Foundation
import SyncStore
import Testing

@Suite struct PrivateFilesTests {
    @Test func aPrivateWriteNarrowsAnExistingFileAndRefusesALink() throws {
        let fixture = try StoreFixture()
        let report = fixture.folder.appendingPathComponent("report.md").path
        FileManager.default.createFile(
            atPath: report, contents: Data("old".utf8), attributes: [.posixPermissions: 0o644])
        try PrivateFiles.write(Data("new".utf8), toPath: report)
        #expect(PrivateFiles.mode(ofPath: report) == 0o600)
        #expect(FileManager.default.contents(atPath: report) == Data("new".utf8))
        let link = fixture.folder.appendingPathComponent("link.md").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: report)
        #expect(throws: PrivateFileError.self) { try PrivateFiles.write(Data("x".utf8), toPath: link) }
        #expect(FileManager.default.contents(atPath: report) == Data("new".utf8))
    }

    @Test func aStoreFileOthersCanReadIsNamedWithItsMode() throws {
        let fixture = try StoreFixture()
        _ = try fixture.importCSV("email,firstName\naino@example.fi,Aino\n")
        #expect(PrivateFiles.looselyProtected(storePath: fixture.path).isEmpty)
        chmod(fixture.path, 0o644)
        #expect(PrivateFiles.looselyProtected(storePath: fixture.path).map(\.mode) == [0o644])
    }
}
