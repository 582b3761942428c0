; Inno Setup script of the Windows installer (Inno Setup 6). Build the bundle first on Windows:
;   python packaging\build.py --no-archive
;   iscc /DAppVersion=0.1.0 packaging\windows\tvdesk.iss
; It installs build\pyinstaller\dist\tvdesk into Program Files (read-only for users: tvdesk
; writes only to %LOCALAPPDATA%\tvdesk), with Start menu and optional desktop shortcuts.
; Not built or tested in CI, which runs on Linux.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define Bundle "..\..\build\pyinstaller\dist\tvdesk"

[Setup]
AppId={{6F1C2B7E-3D4A-4E8B-9C1F-2A7D5E9B0C31}
AppName=tvdesk
AppVersion={#AppVersion}
AppPublisher=tvdesk
DefaultDirName={autopf}\tvdesk
DefaultGroupName=tvdesk
DisableProgramGroupPage=yes
OutputDir=..\..\build\pyinstaller
OutputBaseFilename=tvdesk-{#AppVersion}-windows-x86_64-setup
SetupIconFile=..\..\resources\icons\tvdesk.ico
UninstallDisplayIcon={app}\tvdesk.exe
Compression=lzma2/max
SolidCompression=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
PrivilegesRequiredOverridesAllowed=dialog

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#Bundle}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\tvdesk"; Filename: "{app}\tvdesk.exe"; Parameters: "gui"
Name: "{autodesktop}\tvdesk"; Filename: "{app}\tvdesk.exe"; Parameters: "gui"; Tasks: desktopicon

[Run]
Filename: "{app}\tvdesk.exe"; Parameters: "gui"; Description: "{cm:LaunchProgram,tvdesk}"; Flags: nowait postinstall skipifsilent

[UninstallRun]
; A local worker may still run a retraining; stop it so its files can be removed.
Filename: "{sys}\taskkill.exe"; Parameters: "/IM tvdesk-worker.exe /F"; Flags: runhidden; RunOnceId: "StopWorker"
